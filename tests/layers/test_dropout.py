import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.dropout import PhiloxDropout, dropout
from electra_tf.models.builders import build_embeddings, build_encoder
from tests.test_case import random_batch, tiny_config


def test_dropout_zeroes_the_rate_and_scales_the_rest():
    inputs = tf.ones([64, 999])  # an odd size: the last 16-bit draw of the last word is unused
    outputs = dropout(inputs, 0.1, tf.constant([1, 2], tf.int64)).numpy()
    assert set(np.unique(outputs)) == {0.0, np.float32(1 / 0.9)}
    assert abs((outputs == 0).mean() - 0.1) < 0.005
    assert abs(outputs.mean() - 1.0) < 0.01  # the expectation is kept


def test_dropout_masks_follow_the_seed_only():
    inputs = tf.random.normal([8, 128])
    first, again, other = (dropout(inputs, 0.3, tf.constant(seed, tf.int64)).numpy()
                           for seed in ([5, 6], [5, 6], [5, 7]))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dropout_masks_are_the_same_under_xla(dtype):
    inputs = tf.cast(tf.random.normal([4, 2, 16, 16]), dtype)
    seed = tf.constant([3, 4], tf.int64)
    plain = tf.function(dropout)(inputs, 0.1, seed)
    compiled = tf.function(dropout, jit_compile=True)(inputs, 0.1, seed)
    np.testing.assert_array_equal(tf.cast(plain, tf.float32).numpy(), tf.cast(compiled, tf.float32).numpy())


def test_layer_draws_a_new_mask_per_call_from_its_seed_generator():
    layer = PhiloxDropout(0.5, seed=1)
    inputs = np.ones((4, 32), "float32")
    first, second = (np.asarray(layer(inputs, training=True)) for _ in range(2))
    assert (first != second).any()
    np.testing.assert_array_equal(np.asarray(layer(inputs, training=False)), inputs)
    restored = PhiloxDropout.from_config(layer.get_config())
    restored.seed_generator.state.assign(layer.seed_generator.state)
    np.testing.assert_array_equal(np.asarray(restored(inputs, training=True)),
                                  np.asarray(layer(inputs, training=True)))


def test_encoder_training_forward_is_the_same_under_xla():
    """Every dropout in the encoder (its own and those inside keras-hub's and Keras's attention layers)
    draws with Philox: with Keras's default algorithm XLA draws other masks (and 80x slower). Unpacked, as
    pre-training trains: XLA runs the padded layout, whose masks a packed batch with padding does not share."""
    config = tiny_config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    encoder = build_encoder(config, build_embeddings(config), name="encoder", pack_in_training=False)
    batch = random_batch()
    encoder(batch)

    def forward(inputs):
        return encoder(inputs, training=True)

    def outputs(jit_compile: bool) -> np.ndarray:
        keras.utils.set_random_seed(0)
        for variable in encoder.non_trainable_variables:  # the seed generators' states
            variable.assign(tf.zeros_like(variable))
        return tf.function(forward, jit_compile=jit_compile)(batch).numpy()

    plain = outputs(jit_compile=False)
    np.testing.assert_allclose(outputs(jit_compile=True), plain, atol=1e-5)
    assert not np.allclose(plain, encoder(batch, training=False).numpy(), atol=1e-3)  # dropout was on
