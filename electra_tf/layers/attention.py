"""`FusedMultiHeadAttention`: Keras's `MultiHeadAttention` with its core as one function (one XLA program on GPUs)."""

from __future__ import annotations

import keras
import tensorflow as tf

from electra_tf.layers.dropout import dropout
from electra_tf.layers.fusion import xla_fused


def attention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, mask: tf.Tensor | None, scale: float,
              rate: float, seed: tf.Tensor | None) -> tf.Tensor:
    """Scaled dot-product attention over projected heads: what `MultiHeadAttention._compute_attention`
    computes for rank-4 inputs, with the same masked softmax and the same dropout masks as the encoder's
    `PhiloxDropout`. One XLA program on machines with GPUs, TensorFlow's ops on others (`xla_core_pays_off`).

    Args:
        query: [batch, target, heads, head_size]; key, value: [batch, source, heads, head_size].
        mask: bool or int [batch, target, source] (True or 1: may attend), or None.
        scale: the scores' factor, 1 / sqrt(head_size).
        rate: dropout rate on the attention probabilities.
        seed: int [2], the dropout's stateless seed; None: no dropout (inference).

    Returns:
        [batch, target, heads, head_size].
    """
    core = fused_attention_core if xla_core_pays_off() else attention_core
    return core(query, key, value, mask, scale, rate, seed)


def xla_core_pays_off() -> bool:
    """Whether attention's core runs as one XLA program (`fused_attention_core`) rather than as TensorFlow's ops
    (`attention_core`): on machines with GPUs.

    On CPUs TensorFlow's ops are the faster: oneDNN's batch matmuls on heads-first operands run bfloat16 natively,
    where XLA's CPU backend computes bfloat16 dots through float32, and beat XLA's fusion in float32 too.
    ELECTRA-Small's core at 32 x 128 on 2 cores (`bench/attention_core.py`), TensorFlow's ops against XLA:
    float32 forward 9.1 against 9.8 ms, forward and backward 22.8 against 27.3; bfloat16 6.3 against 13.5 and
    15.0 against 33.4.
    """
    return bool(tf.config.list_logical_devices("GPU"))


def attention_core(query, key, value, mask, scale, rate, seed):
    """`attention` as TensorFlow ops."""
    # Heads-first operands: the scores [batch, heads, target, source] come straight out of one batch matmul
    # (tf.einsum on the [batch, positions, heads, head_size] layout: 12-30% slower, bench/attention_core.py).
    def heads_first(x):  # [batch, positions, heads, head_size] <-> [batch, heads, positions, head_size]
        # as an einsum: TensorFlow's plain transpose kernel, where tf.transpose takes oneDNN's, which costs
        # about 70 us however small the tensor (a batch-1 request: 48 of them, 4 ms)
        return tf.einsum("abcd->acbd", x)

    scores = tf.matmul(heads_first(query * tf.cast(scale, query.dtype)), heads_first(key), transpose_b=True)
    if mask is not None:  # as keras.layers.Softmax masks: a large negative score before, exact zeros after
        mask = tf.cast(mask, tf.bool)[:, None]  # [batch, 1, target or 1, source]
        # Added, not selected with tf.where: the bias has the mask's small shape, and an addition's gradient is
        # the upstream gradient itself (a select's is two more passes over the scores).
        masked_score = tf.constant(-3e4 if scores.dtype == tf.float16 else -1e9, scores.dtype)
        scores += tf.where(mask, tf.zeros([], scores.dtype), masked_score)
    probabilities = tf.nn.softmax(scores)  # masked probabilities: exp(-1e9) is exactly 0
    if seed is not None:
        probabilities = dropout(probabilities, rate, seed)
    context = tf.matmul(probabilities, heads_first(value))
    if mask is not None:  # a query without keys attends to nothing (Keras zeroes its uniform probabilities)
        context *= tf.cast(tf.reduce_any(mask, axis=-1, keepdims=True), context.dtype)
    return heads_first(context)


fused_attention_core = xla_fused(attention_core)


@keras.saving.register_keras_serializable(package="electra_tf")
class FusedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` whose core (scores, masked softmax, dropout, weighted sum) is `attention`
    above: one XLA program on machines with GPUs, TensorFlow's ops on heads-first operands on others.

    Keras computes that core as a dozen separate ops, with batch matmuls at a third of the machine's matmul rate
    and transposes between them. ELECTRA-Small on 2 CPU cores, against Keras's own core: forward and backward
    54 -> 42 ms a layer as XLA's program, a pre-training step x1.10, a classifier's forward pass x1.18 (the
    TensorFlow-ops core on heads-first operands is faster still on CPUs, `xla_core_pays_off`); outputs equal
    Keras's to float32 rounding and dropout draws the same masks. Projections, weights, names and checkpoints are
    Keras's. Attention scores (`return_attention_scores`), causal masks and inputs of another rank take Keras's
    own path.

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
