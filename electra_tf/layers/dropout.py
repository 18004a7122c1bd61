"""`PhiloxDropout`: dropout whose masks are cheap to draw and the same with and without XLA."""

from __future__ import annotations

import keras
import tensorflow as tf

DRAW_RANGE = 2 ** 16  # each Philox uint32 gives two 16-bit draws


def dropout(inputs: tf.Tensor, rate: float, seed: tf.Tensor) -> tf.Tensor:
    """Zeroes each element of `inputs` with probability `rate` and scales the rest by 1 / (1 - rate).

    Keras's dropout draws a float32 uniform per element with TF's default ("auto_select") stateless
    algorithm, which XLA on CPU runs about 80x slower than Philox: it made an XLA pre-training step 6x
    slower. Here the masks come from Philox uint32s, each split into two 16-bit draws (half the random
    numbers of Keras's, a third less time for the whole dropout), and XLA and TF's own kernels give the same
    masks. The rate is rounded to a multiple of 2**-16 (0.1 becomes 0.100006).

    Args:
        inputs: float tensor of any shape.
        rate: float in [0, 1).
        seed: int tensor [2], the stateless seed (a `keras.random.SeedGenerator` draw).
    """
    size = tf.size(inputs)
    words = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32,
                                        alg="philox")
    draws = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size]
    keep = tf.reshape(draws >= round(rate * DRAW_RANGE), tf.shape(inputs))
    return tf.where(keep, inputs * tf.cast(1 / (1 - rate), inputs.dtype), tf.zeros([], inputs.dtype))


@keras.saving.register_keras_serializable(package="electra_tf")
class PhiloxDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` drawing its masks with `dropout` above; `noise_shape` is not supported.

    Its random state is the Keras layer's `seed_generator`, so checkpoints that save it resume exactly.

    Example:
    ```python
    import numpy as np
    layer = PhiloxDropout(0.5, seed=1)
    out = layer(np.ones((4, 8), "float32"), training=True)
    assert set(np.unique(out)) <= {0.0, 2.0}
    ```
    """

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        if noise_shape is not None:
            raise ValueError("PhiloxDropout does not support noise_shape.")
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return dropout(inputs, self.rate, self.seed_generator.next())

