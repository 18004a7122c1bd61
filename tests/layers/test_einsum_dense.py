import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.einsum_dense import TFEinsumDense, dense_contraction

# Keras's MultiHeadAttention projections: query/key/value, then the output (one MatMul each); then forms that
# take tf.einsum: a bias on part of the units, a kernel whose contracted axis is not its first.
EQUATIONS = [("abc,cde->abde", (None, 3, 4), "de", (2, 5, 6)),
             ("abcd,cde->abe", (None, 6), "e", (2, 5, 3, 4)),
             ("...b,bc->...c", 7, "c", (2, 3, 5)),
             ("abc,cde->abde", (None, 3, 4), "e", (2, 5, 6)),
             ("abc,dc->abd", (None, 4), "d", (2, 5, 6))]


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


@pytest.mark.parametrize("equation,contracted", [("abc,cde->abde", 1), ("abcd,cde->abe", 2), ("...b,bc->...c", 1),
                                                 ("abc,dc->abd", None), ("abc,cd->abdc", None),
                                                 ("ab,bc->ac", 1), ("abc,cd->acd", None)])
def test_dense_contraction_recognises_dense_equations_only(equation, contracted):
    assert dense_contraction(equation) == contracted
