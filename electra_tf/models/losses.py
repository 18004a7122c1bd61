"""Token-weighted means that stay exact under `tf.distribute`.

A replica holding 10 real tokens and one holding 100 must not count equally: the loss is the sum of
per-token losses over the *global* batch divided by the *global* weight. Each replica contributes
`local_sum / global_weight`; Keras sums gradients across replicas, so the gradient is that of the global
mean. (Model Garden instead averages per-replica means, which is biased under uneven padding.)
"""

from __future__ import annotations

import tensorflow as tf


def global_sum(value: tf.Tensor) -> tf.Tensor:
    """Sum of a scalar over all replicas in sync (the value itself outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context (a call under `strategy.scope()`): the batch is whole here
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def replica_share_of_mean(values: tf.Tensor, weights: tf.Tensor, total_weight: tf.Tensor | None = None) -> tf.Tensor:
    """This replica's share of the global weighted mean of `values`.

    Summed over replicas it equals `sum(weights * values) / (sum(weights) + 1e-6)` over the global batch
    (the original's normalisation, epsilon included).

    Args:
        values: float tensor of per-token losses.
        weights: float tensor of the same shape, 0 where a token does not count.
        total_weight: optional float scalar, the global sum of weights when `values` is only part of the
            batch (a micro-batch of gradient accumulation). Defaults to the global sum of `weights`.

    Returns:
        A float32 scalar.
    """
    values = tf.cast(values, tf.float32)
    weights = tf.cast(weights, tf.float32)
    if total_weight is None:
        total_weight = global_sum(tf.reduce_sum(weights))
    return tf.reduce_sum(values * weights) / (tf.stop_gradient(total_weight) + 1e-6)
