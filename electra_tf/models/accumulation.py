"""Gradient accumulation inside the train step, the one way every model accumulates.

A batch is split into `k` equal micro-batches whose gradients are summed before one optimizer update: the
update of the whole batch (each micro-batch's loss is its share of the whole batch's), with one micro-batch's
activations in memory at a time. It works under every `tf.distribute` strategy, unlike Keras's optimizer-side
`gradient_accumulation_steps` (which fails under MirroredStrategy, and which `ElectraAdamW` refuses).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf


def split_batch(batch: Any, count: int) -> list[Any]:
    """`count` equal pieces of a (nested) batch along its first axis; `None` leaves stay `None`."""
    if count == 1:
        return [batch]
    leaves = tf.nest.flatten(batch)
    batch_size = next((leaf.shape[0] for leaf in leaves if leaf is not None), None)
    if batch_size is None or batch_size % count:
        raise ValueError(f"Gradient accumulation over {count} micro-batches needs a fixed per-replica batch size "
                         f"divisible by {count}, got {batch_size}.")
    pieces = [None if leaf is None else tf.split(leaf, count) for leaf in leaves]
    return [tf.nest.pack_sequence_as(batch, [None if piece is None else piece[i] for piece in pieces])
            for i in range(count)]


def accumulated_gradients(micro_batches: Sequence[Any], scaled_loss: Callable[[Any], tf.Tensor],
                          variables: Sequence[tf.Variable]) -> list:
    """The sum over `micro_batches` of the gradients of `scaled_loss(micro_batch)` (which runs the forward pass
    and returns the micro-batch's share of the batch loss, scaled for the optimizer) with respect to
    `variables`."""
    gradients = None
    for micro_batch in micro_batches:
        # Start a micro-batch only when the previous one's gradients exist: one set of activations at a time.
        with tf.control_dependencies([g for g in gradients or [] if g is not None]):
            with tf.GradientTape() as tape:
                loss = scaled_loss(micro_batch)
            micro_gradients = tape.gradient(loss, variables)
        gradients = micro_gradients if gradients is None else _add_gradients(gradients, micro_gradients)
    return gradients


def _add_gradients(total: list, more: list) -> list:
    # Embedding gradients arrive as IndexedSlices; their sum is taken densely.
    return [None if a is None else tf.convert_to_tensor(a) + tf.convert_to_tensor(b) for a, b in zip(total, more)]
