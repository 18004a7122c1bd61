import numpy as np
import pytest

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.base import load_tokenizer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
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
    with pytest.raises(ValueError, match="8000 tokens but the model 130"):
        pretrainer.save_pretrained(tmp_path / "model", WordPieceTokenizer(SAMPLE_VOCAB_FILE))
    assert not (tmp_path / "model").exists()
