"""Gradient-disentangled embedding sharing (DeBERTa-v3): routing of the two losses, and what leaves the model."""

import numpy as np
import keras
import pytest
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.convert import hf
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, tiny_config


def _gdes_pretrainer(**overrides) -> ElectraPretrainer:
    return ElectraPretrainer(tiny_config(embedding_sharing="gdes", **overrides))


def _tables(pretrainer):
    deltas = pretrainer.discriminator.encoder.embeddings
    return pretrainer.embeddings.word_embeddings, pretrainer.embeddings.position_table, deltas.word_delta, deltas.position_delta


def test_rtd_loss_reaches_only_the_deltas_and_mlm_loss_only_the_shared_tables():
    pretrainer = _gdes_pretrainer(temperature=1.0)
    word, position, word_delta, position_delta = _tables(pretrainer)
    batch = random_batch(batch_size=4, sequence_length=12)
    with tf.GradientTape(persistent=True) as tape:
        output = pretrainer(batch, training=True)
        mlm_losses, rtd_losses, _ = pretrainer.losses_of(output)
        rtd_loss, mlm_loss = tf.reduce_sum(rtd_losses), tf.reduce_sum(mlm_losses * output.weights)

    def norms(loss):
        return [0.0 if g is None else float(tf.norm(tf.convert_to_tensor(g)))
                for g in tape.gradient(loss, [word, position, word_delta, position_delta])]

    rtd_word, rtd_position, rtd_word_delta, rtd_position_delta = norms(rtd_loss)
    mlm_word, mlm_position, mlm_word_delta, mlm_position_delta = norms(mlm_loss)
    assert rtd_word == 0.0 and rtd_position == 0.0
    assert rtd_word_delta > 0 and rtd_position_delta > 0
    assert mlm_word > 0 and mlm_position > 0
    assert mlm_word_delta == 0.0 and mlm_position_delta == 0.0


def test_gdes_starts_as_tied_sharing_and_trains_both_tables_apart():
    batch = random_batch(batch_size=8, sequence_length=16)
    keras.utils.set_random_seed(1)
    tied = ElectraPretrainer(tiny_config())
    keras.utils.set_random_seed(1)
    gdes = _gdes_pretrainer()
    for tied_weight, gdes_weight in zip(tied.weights, [w for w in gdes.weights if "delta" not in w.path]):
        gdes_weight.assign(tied_weight)  # the deltas stay at their initial zeros
    np.testing.assert_allclose(gdes(batch).rtd_logits, tied(batch).rtd_logits, atol=1e-5)

    gdes.compile(optimizer=create_optimizer(1e-3, 10, 1))
    word_before = gdes.embeddings.word_embeddings.numpy().copy()
    gdes.fit(batch, batch_size=8, epochs=3, verbose=0)
    assert np.abs(gdes.discriminator.encoder.embeddings.word_delta.numpy()).max() > 0
    assert not np.allclose(gdes.embeddings.word_embeddings.numpy(), word_before)


def test_gdes_exports_merged_tables_to_directories_and_hugging_face(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    pretrainer = _gdes_pretrainer(vocab_size=tokenizer.vocab_size)
    embeddings = pretrainer.discriminator.encoder.embeddings
    rng = np.random.default_rng(0)
    for delta in (embeddings.word_delta, embeddings.position_delta):
        delta.assign(rng.normal(0, 0.05, delta.shape).astype("float32"))
    merged_word = pretrainer.embeddings.word_embeddings.numpy() + embeddings.word_delta.numpy()
    merged_position = pretrainer.embeddings.position_table.numpy() + embeddings.position_delta.numpy()
    batch = random_batch(batch_size=3, sequence_length=16, vocab_size=tokenizer.vocab_size)
    pretrainer.save_pretrained(tmp_path / "gdes", tokenizer)

    # The pre-trainer reloads itself with its deltas.
    reloaded = ElectraPretrainer.from_pretrained(tmp_path / "gdes")
    np.testing.assert_allclose(reloaded.discriminator(batch), pretrainer.discriminator(batch), atol=1e-5)
    # The discriminator and a fine-tuning encoder get plain tables E_G + E_delta, and compute the same.
    discriminator = ElectraDiscriminator.from_pretrained(tmp_path / "gdes")
    np.testing.assert_array_equal(discriminator.encoder.embeddings.word_embeddings.numpy(), merged_word)
    np.testing.assert_array_equal(discriminator.encoder.embeddings.position_table.numpy(), merged_position)
    np.testing.assert_allclose(discriminator(batch), pretrainer.discriminator(batch), atol=1e-5)
    backbone = ElectraBackbone.from_pretrained(tmp_path / "gdes")
    inputs = {key: tf.constant(value) for key, value in batch.items()}
    np.testing.assert_allclose(backbone.encoder(inputs), pretrainer.encoder(inputs), atol=1e-5)
    # Hugging Face: the discriminator's embeddings are E_G + E_delta.
    hf.save_discriminator(discriminator, tokenizer, tmp_path / "hf")
    tensors = hf.read_safetensors(tmp_path / "hf")
    np.testing.assert_array_equal(tensors["electra.embeddings.word_embeddings.weight"], merged_word)
    np.testing.assert_array_equal(tensors["electra.embeddings.position_embeddings.weight"], merged_position)
    converted, _ = hf.load_discriminator(tmp_path / "hf")
    np.testing.assert_allclose(converted(batch), pretrainer.discriminator(batch), atol=1e-5)


def test_the_unmerged_discriminator_is_refused_by_the_hugging_face_export():
    with pytest.raises(ValueError, match="standalone_tower"):
        hf.discriminator_links(_gdes_pretrainer().discriminator)


def test_old_configs_with_untied_generator_embeddings_still_load():
    assert ElectraConfig.from_dict({"untied_generator_embeddings": True}).embedding_sharing == "untied"
    assert ElectraConfig.from_dict({"untied_generator_embeddings": False}).embedding_sharing == "tied"
