import keras
import keras_hub
import numpy as np

from electra_tf.convert.keras_hub import from_keras_hub, to_keras_hub
from tests.test_case import random_batch


def _exact_gelu(backbone):
    # The same GELU choice on both sides: keras-hub uses the tanh approximation, ELECTRA the exact one.
    for block in backbone.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu
    return backbone


def test_a_random_backbone_converts_both_ways_with_the_same_outputs():
    keras.utils.set_random_seed(1)
    backbone = _exact_gelu(keras_hub.models.ElectraBackbone(
        vocab_size=130, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=24,
        dropout=0.0, max_sequence_length=32))
    batch = random_batch(batch_size=3, sequence_length=12, lengths=[12, 7, 4])
    expected = backbone(batch)["sequence_output"].numpy()
    ours = from_keras_hub(backbone)
    encoder, config = ours.encoder, ours.config
    assert (config.hidden_size, config.embedding_size, config.intermediate_size) == (16, 8, 24)
    real = batch["padding_mask"].astype(bool)
    np.testing.assert_allclose(encoder(batch).numpy()[real], expected[real], atol=1e-5)
    back = _exact_gelu(to_keras_hub(encoder))
    np.testing.assert_allclose(back(batch)["sequence_output"].numpy()[real], expected[real], atol=1e-5)


def _converted_preset(tmp_path, vocab_file):
    """A random one-layer keras-hub backbone over `vocab_file`, saved as a preset and converted; the backbone."""
    from electra_tf.convert.checkpoint import convert_checkpoint

    vocabulary = vocab_file.read_text()
    backbone = keras_hub.models.ElectraBackbone(
        vocab_size=len(vocabulary.splitlines()), num_layers=1, num_heads=2, hidden_dim=16, embedding_dim=8,
        intermediate_dim=24, dropout=0.0, max_sequence_length=32)
    backbone.save_to_preset(str(tmp_path / "preset"))
    (tmp_path / "preset" / "assets" / "tokenizer").mkdir(parents=True, exist_ok=True)
    (tmp_path / "preset" / "assets" / "tokenizer" / "vocabulary.txt").write_text(vocabulary)
    assert convert_checkpoint("keras-hub", tmp_path / "preset", tmp_path / "ours") == "backbone"
    return backbone


def test_a_saved_preset_converts_to_a_model_directory(tmp_path):
    from electra_tf.models.backbone import ElectraBackbone
    from electra_tf.text import SAMPLE_VOCAB_FILE

    keras.utils.set_random_seed(2)
    backbone = _converted_preset(tmp_path, SAMPLE_VOCAB_FILE)
    encoder = ElectraBackbone.from_pretrained(tmp_path / "ours").encoder
    for ours, theirs in zip(encoder.transformer_layers[0].get_weights(), backbone.transformer_layers[0].get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_preset_with_a_small_vocabulary_takes_its_special_ids_from_it(tmp_path):
    import pathlib

    from electra_tf.models.directory import read_config

    vocab = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf" / "discriminator" / "vocab.txt"
    _converted_preset(tmp_path, vocab)
    config = read_config(tmp_path / "ours")
    assert config.vocab_size == 64
    assert (config.pad_token_id, config.cls_token_id, config.sep_token_id, config.mask_token_id) == (0, 2, 3, 4)
