import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers import activations
from electra_tf.layers.activations import gelu
from electra_tf.layers.fusion import unfused
from tests.test_case import xla_compiled_functions

POINTS = tf.constant(np.linspace(-8, 8, 4001), tf.float32)


@pytest.mark.parametrize("fused", [True, False])
def test_gelu_equals_keras_exact_gelu_and_its_gradient(fused):
    with tf.GradientTape(persistent=True) as tape, contextlib.nullcontext() if fused else unfused():
        tape.watch(POINTS)
        ours, reference = gelu(POINTS), keras.activations.gelu(POINTS, approximate=False)
    if fused:  # XLA's erfc is not TensorFlow's
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-6, atol=3e-7)
    else:
        np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    np.testing.assert_allclose(tape.gradient(ours, POINTS).numpy(), tape.gradient(reference, POINTS).numpy(),
                               atol=1e-6)


def test_gelu_value_and_gradient_are_compiled_except_when_unfused():
    def compiled_functions():
        def value_and_gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = gelu(x)
            return y, tape.gradient(y, x)
        return xla_compiled_functions(
            tf.function(value_and_gradient).get_concrete_function(tf.TensorSpec([None])).graph.as_graph_def())

    assert compiled_functions() == 2
    with unfused():
        assert compiled_functions() == 0


def test_fused_gelu_on_matrices_compiles_for_row_counts_rounded_up(monkeypatch):
    compiled_shapes = []
    value = activations.gelu_value
    monkeypatch.setattr(activations, "gelu_value", lambda x: compiled_shapes.append(tuple(x.shape)) or value(x))
    for rows in (300, 5):
        points = tf.reshape(POINTS[:rows * 3], [rows, 3])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(points)
            ours, reference = gelu(points), keras.activations.gelu(points, approximate=False)
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-6, atol=3e-7)
        np.testing.assert_allclose(tape.gradient(ours, points).numpy(), tape.gradient(reference, points).numpy(),
                                   atol=1e-6)
    assert compiled_shapes == [(512, 3), (256, 3)]


def test_gelu_in_bfloat16_is_the_float32_value_rounded():
    points = tf.cast(POINTS, tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(points)
        outputs = gelu(points)
    gradient = tape.gradient(outputs, points)
    assert outputs.dtype == gradient.dtype == tf.bfloat16
    exact = gelu(tf.cast(points, tf.float32))
    np.testing.assert_array_equal(outputs.numpy(), tf.cast(exact, tf.bfloat16).numpy())
    np.testing.assert_allclose(tf.cast(gradient, tf.float32).numpy(),
                               keras.ops.convert_to_numpy(_exact_gradient(tf.cast(points, tf.float32))),
                               rtol=1e-2, atol=1e-2)


def _exact_gradient(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = keras.activations.gelu(x, approximate=False)
    return tape.gradient(y, x)


def test_gelu_survives_serialization_in_a_dense_layer():
    layer = keras.layers.Dense(4, activation=gelu)
    restored = keras.layers.Dense.from_config(layer.get_config())
    assert restored.activation is gelu
