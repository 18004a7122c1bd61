"""`PackedTokens`: the real tokens of a padded batch as one row, so position-wise layers skip the padding."""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # XLA-context test; no public equivalent


class PackedTokens:
    """Moves tensors between the padded layout [batch, length, ...] and the packed one [tokens, ...] (the real
    tokens of every row, one after the other).

    Everything in a transformer block except the attention core works per position, so it can run on the packed
    tokens: a batch of real text padded to its longest row is often half padding (SST-2 dev at batch 32: 33 tokens
    a sentence against about 64 a row), and packing halves its dense matmuls. The attention core unpacks its
    inputs to compare positions within each row. Both directions, and their gradients, are gathers (TensorFlow's
    scatters are several times slower). Packed tensors are matrices, so a `Dense` layer on them is one `MatMul`,
    which TensorFlow's graph optimizer (grappler's remapper, oneDNN) fuses at inference with its bias and GELU.

    Args:
        padding_mask: [batch, length], nonzero on real tokens.
        gather_gradients: bool. Give `pack` and `unpack` gathers as gradients (`tf.custom_gradient`), where
            TensorFlow's gradient of a gather is a scatter, 2-3x slower (ELECTRA-Small's fine-tuning step x1.03).
            For training graphs: a SavedModel cannot hold a custom gradient. Defaults to `False`.
    """

    def __init__(self, padding_mask: tf.Tensor, gather_gradients: bool = False):
        self.mask = tf.cast(padding_mask, tf.bool)
        self.gather_gradients = gather_gradients
        real = tf.reshape(self.mask, [-1])
        self.token_positions = tf.where(real)[:, 0]  # [tokens]: each real token's index in the flat batch
        # Each padded position's packed index; a padding position gets the real token before it, which the
        # attention masks as a key and which no output reads as a query.
        self.packed_index = tf.reshape(tf.maximum(tf.cumsum(tf.cast(real, tf.int32)) - 1, 0), tf.shape(self.mask))

    @property
    def first_token_index(self) -> tf.Tensor:
        """[batch]: each row's first token's packed index (for a row without tokens, another row's token)."""
        return self.packed_index[:, 0]

    def pack(self, padded: tf.Tensor) -> tf.Tensor:
        """[batch, length, ...] -> [tokens, ...]."""
        flat = tf.reshape(padded, tf.concat([[-1], tf.shape(padded)[2:]], axis=0))

        def gradient(upstream):  # the packed rows back at their positions, zeros at padding positions
            return tf.reshape(self.unpack_with_zero_padding(upstream), tf.shape(flat))

        return self._gather(flat, self.token_positions, gradient)

    def unpack(self, packed: tf.Tensor) -> tf.Tensor:
        """[tokens, ...] -> [batch, length, ...], padding positions holding copies of real tokens.

        With `gather_gradients`, its gradient reads the real positions only: exact when nothing downstream of the
        copies reaches the loss, as in attention, whose mask gives keys, values and (unread) queries at padding
        positions zero gradient, and in `unpack_with_zero_padding`.
        """
        return self._gather(packed, self.packed_index, self.pack)

    def unpack_with_zero_padding(self, packed: tf.Tensor) -> tf.Tensor:
        """`unpack`, zeros at padding positions."""
        mask = tf.reshape(self.mask, tf.concat([tf.shape(self.mask), tf.ones([packed.shape.rank - 1], tf.int32)], 0))
        return tf.where(mask, self.unpack(packed), tf.zeros([], packed.dtype))

    def _gather(self, params: tf.Tensor, indices: tf.Tensor, gradient) -> tf.Tensor:
        """tf.gather(params, indices), with `gradient` as its gradient if `gather_gradients`."""
        if not self.gather_gradients:
            return tf.gather(params, indices)

        @tf.custom_gradient
        def gather(params):
            return tf.gather(params, indices), gradient

        return gather(params)


def packing_pays_off() -> bool:
    """Whether the graph being built runs op by op. Under XLA (`jit_compile`) the packed tokens' count is a
    dynamic dimension that XLA pads back to its bound, batch x length: packing would only add its gathers."""
    return tf.executing_eagerly() or not control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
