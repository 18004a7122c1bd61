import dataclasses
import json

import pytest

from electra_tf.config import PRESETS, ElectraConfig, generator_config
from electra_tf.models.pretrainer import ElectraPretrainer

def test_json_round_trip_keeps_every_field(tmp_path):
    config = ElectraConfig.from_preset("base", mask_prob=0.2, sample_with_replacement=True)
    assert ElectraConfig.from_json(config.to_json()) == config
    path = tmp_path / "config.json"
    config.to_json(path)
    assert ElectraConfig.from_json(path) == config


def test_reads_a_hugging_face_config_json():
    hf = {  # the fields of google/electra-small-discriminator's config.json
        "architectures": ["ElectraForPreTraining"], "attention_probs_dropout_prob": 0.1, "embedding_size": 128,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 256, "initializer_range": 0.02,
        "intermediate_size": 1024, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
        "model_type": "electra", "num_attention_heads": 4, "num_hidden_layers": 12, "pad_token_id": 0,
        "type_vocab_size": 2, "vocab_size": 30522, "summary_type": "first", "position_embedding_type": "absolute",
    }
    config = ElectraConfig.from_dict(hf)
    assert config == ElectraConfig.from_preset("small")
    written = json.loads(config.to_json())
    assert {key: written[key] for key in hf if key in written} == {k: v for k, v in hf.items() if k in written}


def test_unknown_keys_and_bad_values_are_named():
    with pytest.raises(ValueError, match="hidden_sise"):
        ElectraConfig.from_dict({"hidden_sise": 3})
    with pytest.raises(ValueError, match="mask_token_id=200"):
        ElectraConfig(vocab_size=150, mask_token_id=200)
    with pytest.raises(ValueError, match="divisible"):
        ElectraConfig(hidden_size=250, num_attention_heads=4)
    with pytest.raises(ValueError, match="Unknown preset"):
        ElectraConfig.from_preset("medium")


@pytest.mark.parametrize("name, hidden, heads, ffn", [
    ("tiny", 16, 1, 64), ("small", 64, 1, 256), ("small++", 256, 4, 1024), ("base", 256, 4, 1024),
    ("large", 256, 4, 1024),
])
def test_generator_size_follows_the_original_derivation(name, hidden, heads, ffn):
    generator = generator_config(PRESETS[name])
    assert (generator.hidden_size, generator.num_attention_heads, generator.intermediate_size) == (hidden, heads, ffn)
    assert generator.num_hidden_layers == PRESETS[name].num_hidden_layers
    assert generator.embedding_size == PRESETS[name].embedding_size


def test_max_predictions_matches_the_original():
    assert ElectraConfig().max_predictions(128) == 19
    assert ElectraConfig.from_preset("large").max_predictions(512) == 130
    assert ElectraConfig(mask_prob=1.0).max_predictions(16) == 16  # never more slots than tokens


@pytest.mark.parametrize("name, millions", [("small", 13.55), ("base", 109.48),
                                             pytest.param("large", 335.14, marks=pytest.mark.slow)])  # 335M weights
def test_presets_have_the_published_discriminator_sizes(name, millions):
    # Published sizes of the discriminators (keras-hub preset metadata, Hugging Face model cards).
    pretrainer = ElectraPretrainer(PRESETS[name])  # built at construction
    assert pretrainer.discriminator.count_params() / 1e6 == pytest.approx(millions, abs=0.01)


def test_presets_are_frozen_and_replaced_not_mutated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["small"].hidden_size = 3
    assert ElectraConfig.from_preset("small", hidden_size=512, num_attention_heads=8).hidden_size == 512
    assert PRESETS["small"].hidden_size == 256
