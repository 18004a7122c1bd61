"""`TFEinsumDense`: `keras.layers.EinsumDense` computed by TensorFlow's own ops."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="electra_tf")
class TFEinsumDense(keras.layers.EinsumDense):
    """`keras.layers.EinsumDense` computed as one 2-D `tf.matmul` with its bias when its equation is a dense
    layer's (`dense_contraction`), else by `tf.einsum`.

    Keras 3.15's TensorFlow backend rewrites the attention projections' equations ("abc,cde->abde" for
    query, key and value, "abcd,cde->abe" for the output) as a rank-3 by rank-2 `tf.matmul`: a batch matmul
    that broadcasts the kernel over the batch, and whose kernel gradient is one small matmul per example
    summed afterwards. Folding the batch into the rows of one matmul halves that: ELECTRA-Small's query
    projection ([32, 128, 256] x [256, 4, 64]), forward and backward on 2 CPU cores, 44.7 ms -> 21.8 ms.
    As a 2-D `MatMul` followed by `BiasAdd` (rather than `tf.einsum`, which TensorFlow's oneDNN build runs as
    its own `_MklEinsum` kernel with the bias added afterwards) the graph optimizer fuses the bias into the
    matmul, and short inputs run faster (an exported classifier's batch-1 SST-2 requests x1.04-1.07 against
    `tf.einsum`, one process; level at 32 x 128).
    The weights, their names and the output are the same; LoRA (the `kernel` property) is kept, and
    quantized layers, which Keras runs through `quantized_call`, are not affected.

    Example:
    ```python
    import numpy as np
    layer = TFEinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")
    assert tuple(layer(np.ones((1, 4, 5), "float32")).shape) == (1, 4, 2, 3)
    ```
    """

    def call(self, inputs, training=None):
        contracted = dense_contraction(self.equation)
        if contracted is not None and (self.bias is None
                                       or tuple(self.bias.shape) == tuple(self.kernel.shape[contracted:])):
            outputs = dense_matmul(inputs, self.kernel, self.bias, contracted)
        else:
            outputs = tf.einsum(self.equation, inputs, self.kernel)
            if self.bias is not None:
                outputs = keras.ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


def dense_contraction(equation: str) -> int | None:
    """How many leading kernel axes `equation` contracts when it is a dense layer's: the input's last axes
    against the kernel's first, the output the input's other axes then the kernel's others ("abc,cde->abde"
    contracts 1, "abcd,cde->abe" 2). None for any other equation."""
    operands, output = equation.split("->")
    inputs, kernel = operands.split(",")
    contracted = len(set(inputs) & set(kernel))
    leading = inputs[:len(inputs) - contracted]
    if not contracted or inputs[len(leading):] != kernel[:contracted] or output != leading + kernel[contracted:]:
        return None
    return contracted


def dense_matmul(inputs: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None, contracted: int) -> tf.Tensor:
    """A dense einsum contracting the kernel's first `contracted` axes, plus a bias shaped like the kernel's other
    axes: inputs [..., depth axes] x kernel [depth axes, unit axes] -> [..., unit axes]."""
    depth = math.prod(kernel.shape[:contracted])
    units = math.prod(kernel.shape[contracted:])
    outputs = tf.matmul(tf.reshape(inputs, [-1, depth]), tf.reshape(kernel, [depth, units]))
    if bias is not None:
        outputs = tf.nn.bias_add(outputs, tf.reshape(bias, [units]))
    leading_rank = inputs.shape.rank - contracted
    leading = [size if size is not None else tf.shape(inputs)[axis]
               for axis, size in enumerate(inputs.shape[:leading_rank])]
    return tf.reshape(outputs, [*leading, *kernel.shape[contracted:]])
