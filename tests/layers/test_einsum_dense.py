import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.einsum_dense import TFEinsumDense

# Keras's MultiHeadAttention projections: query/key/value, then the output.
EQUATIONS = [("abc,cde->abde", (None, 3, 4), "de", (2, 5, 6)),
             ("abcd,cde->abe", (None, 6), "e", (2, 5, 3, 4))]


def twin_layers(equation, output_shape, bias_axes, input_shape, lora_rank=None):
    """A Keras `EinsumDense` and a `TFEinsumDense` with the same weights."""
    keras_layer = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)
    ours = TFEinsumDense(equation, output_shape, bias_axes=bias_axes)
    for layer in (keras_layer, ours):
        layer.build(input_shape)
        if lora_rank:
            layer.enable_lora(lora_rank)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in keras_layer.get_weights()]
    keras_layer.set_weights(weights)
    ours.set_weights(weights)
    return keras_layer, ours


@pytest.mark.parametrize("lora_rank", [None, 2])
@pytest.mark.parametrize("equation,output_shape,bias_axes,input_shape", EQUATIONS)
def test_outputs_and_gradients_equal_keras_einsum_dense(equation, output_shape, bias_axes, input_shape,
                                                         lora_rank):
    inputs = tf.random.normal(input_shape, seed=1)
    results = []
    for layer in twin_layers(equation, output_shape, bias_axes, input_shape, lora_rank):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs)
            loss = tf.reduce_sum(outputs * outputs)
        results.append([outputs, *tape.gradient(loss, [inputs, *layer.trainable_weights])])
    for keras_value, our_value in zip(*results):
        np.testing.assert_allclose(our_value.numpy(), keras_value.numpy(), rtol=1e-5, atol=1e-5)
