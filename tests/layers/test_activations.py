import keras
import numpy as np
import tensorflow as tf

from electra_tf.layers.activations import gelu

POINTS = tf.constant(np.linspace(-8, 8, 4001), tf.float32)


def test_gelu_equals_keras_exact_gelu_and_its_gradient():
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(POINTS)
        ours, reference = gelu(POINTS), keras.activations.gelu(POINTS, approximate=False)
    np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    np.testing.assert_allclose(tape.gradient(ours, POINTS).numpy(), tape.gradient(reference, POINTS).numpy(),
                               atol=1e-6)


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
