import numpy as np
import pytest

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.tokenizer import load_tokenizer
from tests.test_case import random_batch, tiny_config


def test_save_and_load_restores_both_towers_exactly(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    batch = random_batch(vocab_size=tokenizer.vocab_size)
    pretrainer = ElectraPretrainer(config)
    expected = pretrainer(batch)
    pretrainer.save_pretrained(tmp_path / "model", tokenizer)
    restored = ElectraPretrainer.from_pretrained(tmp_path / "model")
    assert restored.config == config
    actual = restored(batch)
    np.testing.assert_allclose(actual.rtd_logits.numpy(), expected.rtd_logits.numpy(), atol=1e-6)
    np.testing.assert_allclose(actual.mlm_logits.numpy(), expected.mlm_logits.numpy(), atol=1e-6)
    assert restored.generator.encoder.embeddings is restored.discriminator.encoder.embeddings
    assert load_tokenizer(tmp_path / "model").vocabulary == tokenizer.vocabulary


def test_missing_or_mismatched_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        ElectraPretrainer.from_pretrained(tmp_path)
    pretrainer = ElectraPretrainer(tiny_config())
    pretrainer(random_batch())
    with pytest.raises(ValueError, match="the vocabulary has 8000 tokens but the model.s vocab_size is 130"):
        pretrainer.save_pretrained(tmp_path / "model", WordPieceTokenizer(SAMPLE_VOCAB_FILE))
    assert not (tmp_path / "model").exists()


def _directories(tmp_path):
    """One directory of each kind that holds an encoder, and the encoder each should give."""
    from electra_tf.config import generator_config
    from electra_tf.models.backbone import ElectraBackbone
    from electra_tf.models.classifier import ElectraClassifier
    from electra_tf.models.question_answerer import ElectraQuestionAnswerer
    from electra_tf.models.token_classifier import ElectraTokenClassifier

    config = tiny_config()
    pretrainer = ElectraPretrainer(config, seed=1)
    pretrainer.save_pretrained(tmp_path / "pretraining")
    yield "pretraining", pretrainer.discriminator.encoder
    pretrainer.discriminator.save_pretrained(tmp_path / "discriminator")
    yield "discriminator", pretrainer.discriminator.encoder
    assert pretrainer.generator.config == generator_config(config)
    pretrainer.generator.save_pretrained(tmp_path / "generator")
    yield "generator", pretrainer.generator.encoder
    for model in (ElectraBackbone(config), ElectraClassifier(config, 3), ElectraTokenClassifier(config, 4),
                  ElectraQuestionAnswerer(config)):
        model.save_pretrained(tmp_path / model.TASK_TYPE)
        yield model.TASK_TYPE, model.encoder


def test_every_model_directory_reloads_whole_and_gives_its_encoder(tmp_path):
    from electra_tf.models import base, directory, registry

    batch = random_batch()
    kinds = []
    for task_type, source in _directories(tmp_path):
        kinds.append(task_type)
        assert directory.read_task_info(tmp_path / task_type)["task_type"] == task_type
        expected = source(batch).numpy()
        encoder = base.load_encoder(tmp_path / task_type)
        assert encoder.embeddings is not source.embeddings  # a copy: fine-tuning must not move the source
        np.testing.assert_array_equal(encoder(batch).numpy(), expected)
        reloaded = registry.model_class(task_type).from_pretrained(tmp_path / task_type)
        tower = reloaded.discriminator if task_type == "pretraining" else reloaded
        np.testing.assert_array_equal(tower.encoder(batch).numpy(), expected)
    assert len(set(kinds)) == 7


def test_a_model_directory_of_another_kind_is_refused_by_name(tmp_path):
    from electra_tf.models import base
    from electra_tf.models.discriminator import ElectraDiscriminator
    from electra_tf.models.generator import ElectraGenerator

    directories = dict(_directories(tmp_path))
    assert set(directories) >= {"classification", "generator"}
    with pytest.raises(ValueError, match="'classification' model, not a generator"):
        ElectraGenerator.from_pretrained(tmp_path / "classification")
    with pytest.raises(ValueError, match="'generator' model, not a discriminator"):
        ElectraDiscriminator.from_pretrained(tmp_path / "generator")
    (tmp_path / "generator" / "task.json").write_text('{"task_type": "summarization"}')
    with pytest.raises(ValueError, match="Unknown task_type 'summarization'"):
        base.load_encoder(tmp_path / "generator")


def _every_kind():
    from electra_tf.models.backbone import ElectraBackbone
    from electra_tf.models.classifier import ElectraClassifier
    from electra_tf.models.discriminator import ElectraDiscriminator
    from electra_tf.models.generator import ElectraGenerator
    from electra_tf.models.question_answerer import ElectraQuestionAnswerer
    from electra_tf.models.token_classifier import ElectraTokenClassifier
    from electra_tf.text import ElectraPreprocessor

    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=24, text_pair=True)
    return [ElectraPretrainer(config, seed=3), ElectraDiscriminator(config), ElectraGenerator(config),
            ElectraBackbone(config), ElectraClassifier(config, label_names=["no", "yes"], preprocessor=preprocessor),
            ElectraTokenClassifier(config, 3), ElectraQuestionAnswerer(config, beam_size=4)]


@pytest.mark.parametrize("index", range(7))
def test_every_model_kind_passes_the_model_contracts(tmp_path, index):
    from tests.test_case import run_model_contracts

    model = _every_kind()[index]
    batch = random_batch(vocab_size=model.config.vocab_size)
    run_model_contracts(model, batch, tmp_path)
    if model.TASK_TYPE == "classification":  # raw text too, through the saved preprocessor
        run_model_contracts(model, (["the queen said", ""], ["a rabbit", "ran"]), tmp_path / "text")


def test_a_truncated_weights_file_is_named_with_its_model_directory(tmp_path):
    from electra_tf.models.classifier import ElectraClassifier

    ElectraClassifier(tiny_config(), label_names=["a", "b"]).save_pretrained(tmp_path / "tuned")
    weights = tmp_path / "tuned" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"model directory {tmp_path / 'tuned'} .*model.weights.h5.* truncated"):
        ElectraClassifier.from_pretrained(tmp_path / "tuned")
