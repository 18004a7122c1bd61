from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers import attention as attention_module
from electra_tf.layers.attention import FusedMultiHeadAttention
from electra_tf.layers.dropout import PhiloxDropout
from electra_tf.layers.fusion import unfused
from tests.test_case import xla_compiled_functions

BATCH, LENGTH, HIDDEN = 3, 7, 8


def twin_layers(dtype=None):
    """A Keras `MultiHeadAttention` (its dropout a `PhiloxDropout`, as in the encoder) and a
    `FusedMultiHeadAttention` with the same weights and dropout seed."""
    layers = []
    for cls in (keras.layers.MultiHeadAttention, FusedMultiHeadAttention):
        layer = cls(num_heads=2, key_dim=4, dropout=0.3, seed=5, dtype=dtype)
        layer.build((BATCH, LENGTH, HIDDEN), (BATCH, LENGTH, HIDDEN))
        layer._dropout_layer.__class__ = PhiloxDropout
        layers.append(layer)
    rng = np.random.default_rng(0)
    weights = [rng.normal(scale=0.3, size=w.shape).astype("float32") for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def padding_attention_mask():
    lengths = tf.constant([LENGTH, 4, 1])
    padding = tf.sequence_mask(lengths, LENGTH)
    return padding[:, None, :] & padding[:, :, None]  # [batch, target, source], as keras-hub merges it


def outputs_and_gradients(layer, inputs, mask, training):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, inputs, attention_mask=mask, training=training)
        loss = tf.reduce_sum(outputs * outputs)
    return [outputs, *tape.gradient(loss, [inputs, *layer.trainable_weights])]


def xla_core(use_it: bool):
    """Within it, attention's core is its XLA program or TensorFlow's ops, whatever the machine."""
    return mock.patch.object(attention_module, "xla_core_pays_off", lambda: use_it)


@pytest.mark.parametrize("use_xla_core", [True, False])
@pytest.mark.parametrize("training", [False, True])
def test_outputs_and_gradients_equal_keras_attention(use_xla_core, training):
    inputs = tf.random.normal((BATCH, LENGTH, HIDDEN), seed=1)
    keras_layer, ours = twin_layers()
    expected = outputs_and_gradients(keras_layer, inputs, padding_attention_mask(), training)
    with xla_core(use_xla_core):
        results = outputs_and_gradients(ours, inputs, padding_attention_mask(), training)
    for keras_value, our_value in zip(expected, results):
        np.testing.assert_allclose(our_value.numpy(), keras_value.numpy(), rtol=1e-5, atol=1e-5)


def test_mixed_bfloat16_matches_keras_to_bfloat16_precision():
    inputs = tf.random.normal((BATCH, LENGTH, HIDDEN), seed=1)
    keras_layer, fused = twin_layers(dtype="mixed_bfloat16")
    expected = keras_layer(inputs, inputs, attention_mask=padding_attention_mask())
    outputs = fused(inputs, inputs, attention_mask=padding_attention_mask())
    assert outputs.dtype == expected.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(outputs, tf.float32).numpy(), tf.cast(expected, tf.float32).numpy(),
                               rtol=2e-2, atol=2e-2)


def test_dropout_draws_new_masks_each_call_as_keras_does():
    inputs = tf.random.normal((BATCH, LENGTH, HIDDEN), seed=1)
    keras_layer, fused = twin_layers()
    for _ in range(2):  # the second call draws from the advanced seed state
        expected = keras_layer(inputs, inputs, training=True)
        outputs = fused(inputs, inputs, training=True)
        np.testing.assert_allclose(outputs.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(fused(inputs, inputs, training=True), fused(inputs, inputs, training=True))


def test_attention_scores_take_keras_path():
    inputs = tf.random.normal((BATCH, LENGTH, HIDDEN), seed=1)
    keras_layer, fused = twin_layers()
    _, expected = keras_layer(inputs, inputs, return_attention_scores=True)
    _, scores = fused(inputs, inputs, return_attention_scores=True)
    np.testing.assert_allclose(scores.numpy(), expected.numpy(), atol=1e-6)


def compiled_functions(layer, training: bool = True) -> int:
    """How many functions the traced call of `layer` hands to XLA."""
    call = tf.function(lambda x: layer(x, x, training=training))
    graph = call.get_concrete_function(tf.TensorSpec((BATCH, LENGTH, HIDDEN))).graph
    return xla_compiled_functions(graph.as_graph_def())


def test_xla_core_is_compiled_except_when_unfused():
    _, fused = twin_layers()
    with xla_core(True):
        assert compiled_functions(fused) == 1
        with unfused():
            assert compiled_functions(fused) == 0
        assert compiled_functions(fused) == 1


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("training", [True, False])
def test_core_runs_as_tensorflow_ops_on_a_machine_without_gpus(dtype, training):
    _, fused = twin_layers(dtype=dtype)
    assert compiled_functions(fused, training) == (1 if tf.config.list_logical_devices("GPU") else 0)
