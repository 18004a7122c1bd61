import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.attention import FusedMultiHeadAttention
from electra_tf.layers.einsum_dense import TFEinsumDense
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.layers.heads import DiscriminatorHead, GeneratorHead
from electra_tf.models.builders import build_embeddings, build_encoder
from tests.test_case import random_batch, run_config_round_trip, tiny_config


def test_embeddings_config_round_trip():
    batch = random_batch()
    run_config_round_trip(ElectraEmbeddings(vocab_size=130, embedding_size=8, dropout=0.0),
                          batch["token_ids"], batch["segment_ids"])


def test_encoder_config_round_trip_with_projection():
    encoder = ElectraEncoder(ElectraEmbeddings(130, 8, dropout=0.0), hidden_size=12, num_layers=2, num_heads=3,
                             intermediate_size=24, dropout=0.0)
    assert encoder.embeddings_projection is not None
    run_config_round_trip(encoder, random_batch())


def test_heads_config_round_trip():
    hidden = np.random.default_rng(0).normal(size=(2, 5, 12)).astype("float32")
    table = np.random.default_rng(1).normal(size=(30, 8)).astype("float32")
    run_config_round_trip(GeneratorHead(embedding_size=8, vocab_size=30), hidden, table)
    run_config_round_trip(DiscriminatorHead(hidden_size=12), hidden)


def test_generator_head_is_tied_to_the_table_it_is_given():
    head = GeneratorHead(embedding_size=8, vocab_size=30)
    hidden = np.random.default_rng(0).normal(size=(2, 3, 12)).astype("float32")
    table = np.random.default_rng(1).normal(size=(30, 8)).astype("float32")
    logits = np.asarray(head(hidden, table))
    normed = np.asarray(head.layer_norm(head.dense(hidden)))
    np.testing.assert_allclose(logits, normed @ table.T + np.asarray(head.output_bias), atol=1e-5)
    assert len(head.trainable_weights) == 5  # dense kernel/bias, LayerNorm gamma/beta, output bias: no table


def test_encoder_uses_exact_gelu_and_post_layer_norm():
    # One block with dropout off recomputed by hand from its own weights: erf GELU, LN after each residual.
    config = tiny_config(num_hidden_layers=1)
    encoder = build_encoder(config, build_embeddings(config))
    batch = random_batch(batch_size=2, sequence_length=6, lengths=[6, 6])
    actual = np.asarray(encoder(batch))
    block = encoder.transformer_layers[0]
    x = encoder.embeddings_projection(encoder.embeddings(batch["token_ids"], batch["segment_ids"]))
    attention = block._self_attention_layer(x, x)
    x = block._self_attention_layer_norm(x + attention)
    intermediate = tf.matmul(x, block._feedforward_intermediate_dense.kernel) + block._feedforward_intermediate_dense.bias
    gelu = 0.5 * intermediate * (1.0 + tf.math.erf(intermediate / np.sqrt(2.0)))
    expected = block._feedforward_layer_norm(x + block._feedforward_output_dense(gelu))
    np.testing.assert_allclose(actual, np.asarray(expected), atol=1e-5)


def test_padding_does_not_change_outputs_at_real_tokens():
    config = tiny_config()
    encoder = build_encoder(config, build_embeddings(config))
    short = random_batch(batch_size=3, sequence_length=10, lengths=[10, 7, 4], seed=3)
    padded = {key: np.pad(value, ((0, 0), (0, 6))) for key, value in short.items()}
    out_short, out_padded = np.asarray(encoder(short)), np.asarray(encoder(padded))
    mask = short["padding_mask"].astype(bool)
    np.testing.assert_allclose(out_padded[:, :10][mask], out_short[mask], atol=1e-5)


def test_sequence_longer_than_the_position_table_is_refused():
    config = tiny_config(max_position_embeddings=8)
    encoder = build_encoder(config, build_embeddings(config))
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        encoder(random_batch(sequence_length=12))


def test_token_id_outside_the_vocabulary_is_refused():
    config = tiny_config()
    encoder = build_encoder(config, build_embeddings(config))
    batch = random_batch()
    batch["token_ids"][0, 1] = config.vocab_size + 5
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocab_size"):
        encoder(batch)


@pytest.mark.parametrize("keras_class,our_class,per_block", [
    (keras.layers.EinsumDense, TFEinsumDense, 4), (keras.layers.MultiHeadAttention, FusedMultiHeadAttention, 1)])
def test_encoder_swaps_in_its_fast_sublayers_and_restores_from_config(keras_class, our_class, per_block):
    config = tiny_config()
    encoder = build_encoder(config, build_embeddings(config), name="encoder")
    batch = random_batch()
    outputs = encoder(batch).numpy()
    swapped = [sublayer for sublayer in encoder._flatten_layers() if isinstance(sublayer, keras_class)]
    assert len(swapped) == per_block * config.num_hidden_layers
    assert all(type(sublayer) is our_class for sublayer in swapped)
    restored = keras.layers.deserialize(keras.layers.serialize(encoder))
    restored(batch)
    restored.set_weights(encoder.get_weights())
    np.testing.assert_allclose(restored(batch).numpy(), outputs, atol=1e-6)
