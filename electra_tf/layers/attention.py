"""`FusedMultiHeadAttention`: Keras's `MultiHeadAttention` with its core compiled by XLA as one program."""

from __future__ import annotations

import keras
import tensorflow as tf

from electra_tf.layers.dropout import dropout
from electra_tf.layers.fusion import xla_fused


def attention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, mask: tf.Tensor | None, scale: float,
              rate: float, seed: tf.Tensor | None) -> tf.Tensor:
    """Scaled dot-product attention over projected heads: what `MultiHeadAttention._compute_attention`
    computes for rank-4 inputs, with the same masked softmax and the same dropout masks as the encoder's
    `PhiloxDropout`.

    One XLA program (`xla_fused`), except in bfloat16 on a machine without GPUs: XLA's CPU backend computes
    bfloat16 dots through float32 conversions, where TensorFlow's oneDNN batch matmuls run bfloat16 natively
    (ELECTRA-Small's core forward and backward: 30.5 against 16.9 ms, `bench/attention_core.py`; a bfloat16
    pre-training step x1.11, `bench/pretrain_step.py`; in float32 the two are level and XLA is kept).

    Args:
        query: [batch, target, heads, head_size]; key, value: [batch, source, heads, head_size].
        mask: bool or int [batch, target, source] (True or 1: may attend), or None.
        scale: the scores' factor, 1 / sqrt(head_size).
        rate: dropout rate on the attention probabilities.
        seed: int [2], the dropout's stateless seed; None: no dropout (inference).

    Returns:
        [batch, target, heads, head_size].
    """
    on_cpu_in_bfloat16 = query.dtype == tf.bfloat16 and not tf.config.list_logical_devices("GPU")
    core = attention_core if on_cpu_in_bfloat16 else fused_attention_core
    return core(query, key, value, mask, scale, rate, seed)


def attention_core(query, key, value, mask, scale, rate, seed):
    """`attention` as TensorFlow ops."""
    # Query first: TensorFlow's einsum then gets the scores [batch, heads, target, source] straight out of
    # one batch matmul, where Keras's key-first equation costs an extra transpose of the scores.
    scores = tf.einsum("abcd,aecd->acbe", query * tf.cast(scale, query.dtype), key)
    if mask is not None:  # as keras.layers.Softmax masks: a large negative score before, exact zeros after
        mask = tf.cast(mask, tf.bool)[:, None]
        scores = tf.where(mask, scores, tf.constant(-3e4 if scores.dtype == tf.float16 else -1e9, scores.dtype))
    probabilities = tf.nn.softmax(scores)
    if mask is not None:
        probabilities = tf.where(mask, probabilities, tf.zeros([], probabilities.dtype))
    if seed is not None:
        probabilities = dropout(probabilities, rate, seed)
    return tf.einsum("acbe,aecd->abcd", probabilities, value)


fused_attention_core = xla_fused(attention_core)


@keras.saving.register_keras_serializable(package="electra_tf")
class FusedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` whose core (scores, masked softmax, dropout, weighted sum) runs as one
    XLA program (`attention` above; in bfloat16 on a machine without GPUs, as TensorFlow's ops).

    TensorFlow runs that core as a dozen separate ops, with batch matmuls at a third of the machine's matmul
    rate and transposes between them; XLA fuses the softmax, mask and dropout and lays the matmuls out
    itself. ELECTRA-Small on 2 CPU cores: the core forward and backward 54 -> 42 ms a layer, a pre-training
    step x1.10, a classifier's forward pass x1.18; outputs equal Keras's to float32 rounding and dropout
    draws the same masks. Projections, weights, names and checkpoints are Keras's. Attention scores
    (`return_attention_scores`), causal masks and inputs of another rank take Keras's own path.

    Example:
    ```python
    import numpy as np
    layer = FusedMultiHeadAttention(num_heads=2, key_dim=4)
    x = np.ones((1, 3, 8), "float32")
    assert tuple(layer(x, x).shape) == (1, 3, 8)
    ```
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        if return_attention_scores or use_causal_mask or len(query.shape) != 4 or self._attention_axes != (1,):
            return super()._compute_attention(query, key, value, attention_mask, training,
                                              return_attention_scores, use_causal_mask)
        return attention(query, key, value, attention_mask, self._inverse_sqrt_key_dim, self._dropout,
                         self.dropout_seed(training)), None

    def dropout_seed(self, training) -> tf.Tensor | None:
        """The attention dropout's next stateless seed when training with dropout, else None (no dropout)."""
        return self._dropout_layer.seed_generator.next() if training and self._dropout > 0 else None
