"""`gelu`: the exact (erf) GELU of BERT and ELECTRA, computed in float32 with a closed-form gradient."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from electra_tf.layers.fusion import fusing, xla_fused

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
# Matrices (packed tokens) reach the fused GELU padded to a multiple of this many rows. XLA compiles it for each
# shape, and the token count of batches padded to their longest text changes with every batch: unrounded, an
# ELECTRA-Small training step on SST-2 paid about 100 ms on each new count (two compiles, value and gradient).
ROWS_PER_SHAPE = 256


@keras.saving.register_keras_serializable(package="electra_tf")
def gelu(x: tf.Tensor) -> tf.Tensor:
    """x * Phi(x), Phi the standard normal CDF: Keras's `gelu(approximate=False)`.

    Under mixed_bfloat16 TensorFlow's CPU erfc has no vectorised bfloat16 kernel (GELU was 15% of a
    bfloat16 pre-training step), so this computes in float32 and casts the result back. The gradient
    Phi(x) + x * phi(x) is written out rather than derived through erfc. Value and gradient each run as one
    XLA program (`xla_fused`; XLA's erfc is within 3e-7 of TensorFlow's): TensorFlow would make five passes
    over the [batch, length, intermediate] activations for the value and as many again for the gradient.
    ELECTRA-Small's [32, 128, 1024] on 2 CPU cores: forward and backward 42 -> 24 ms. Matrices are padded to a
    multiple of `ROWS_PER_SHAPE` rows, so that packed tokens compile a bounded number of shapes.

    The value is TensorFlow's own `tf.nn.gelu`. Inside `unfused()` (exports, packed inference) it is only that,
    with TensorFlow's gradient (the closed-form one is there to be an XLA program; without it a SavedModel holds
    no custom gradient), and on float32 matrices grappler's remapper fuses it with a `Dense` layer's MatMul and
    bias into one oneDNN matmul ([1056, 256] x [256, 1024] with bias and GELU alone: 5.0 -> 3.5 ms; the
    exported SST-2 model at batch 32: x1.02).
    """
    if not fusing():
        return gelu_value(x)
    rows = tf.shape(x)[0] if x.shape.rank == 2 else None  # XLA compiles per shape

    def fit(tensor):  # a shape XLA compiles once for many row counts
        return tensor if rows is None else tf.pad(tensor, [[0, -rows % ROWS_PER_SHAPE], [0, 0]])

    def trim(tensor):
        return tensor if rows is None else tensor[:rows]

    @tf.custom_gradient  # padding and trimming inside: a slice's own gradient would copy the activations again
    def forward(x):
        x = fit(x)
        return trim(gelu_value(x)), lambda upstream: trim(gelu_gradient(x, fit(upstream)))

    return forward(x)


@xla_fused
def gelu_value(x: tf.Tensor) -> tf.Tensor:
    """x * Phi(x), computed in float32."""
    return tf.cast(tf.nn.gelu(tf.cast(x, tf.float32), approximate=False), x.dtype)


@xla_fused
def gelu_gradient(x: tf.Tensor, upstream: tf.Tensor) -> tf.Tensor:
    """upstream * (Phi(x) + x * phi(x))."""
    x32 = tf.cast(x, tf.float32)
    cdf = 0.5 * tf.math.erfc(-x32 * SQRT_HALF)
    pdf = tf.exp(-0.5 * tf.square(x32)) * INV_SQRT_2PI
    return tf.cast(tf.cast(upstream, tf.float32) * (cdf + x32 * pdf), x.dtype)
