"""A linear-chain CRF on TensorFlow ops: transition, start and end scores over tags, the masked forward
algorithm for the likelihood, and Viterbi decoding in the graph (so it exports).

Sequences are left-aligned: `mask[b, t]` is 1 on the first `length[b]` positions. A score of a tag sequence
y over emissions e (the per-position tag logits) is

    start[y_0] + sum_t e_t[y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_last].

With `allowed` given (see `electra_tf.tag_schemes.allowed_transitions`), forbidden transitions, starts and
ends score `FORBIDDEN`, in training and decoding alike: no decoded sequence ever uses one.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

FORBIDDEN = -10000.0  # finite, so that log-sum-exp over a row of forbidden scores stays finite


def crf_sequence_score(emissions: tf.Tensor, tags: tf.Tensor, mask: tf.Tensor, transitions: tf.Tensor,
                       start: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
    """The unnormalised score [B] of `tags` [B, T] over `emissions` [B, T, K] where `mask` [B, T] is 1."""
    mask = tf.cast(mask, emissions.dtype)
    tags = tf.cast(tags, tf.int32)
    lengths = tf.cast(tf.reduce_sum(mask, axis=1), tf.int32)
    emitted = tf.reduce_sum(tf.gather(emissions, tags, axis=2, batch_dims=2) * mask, axis=1)
    pairs = tf.gather_nd(transitions, tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1))
    moved = tf.reduce_sum(pairs * mask[:, 1:], axis=1)
    last = tf.gather(tags, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)
    score = tf.gather(start, tags[:, 0]) + emitted + moved + tf.gather(end, last)
    return tf.where(lengths > 0, score, tf.zeros_like(score))


def _time_major_steps(emissions: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(emission, valid, is_first) per time step, time first: the recursions run over every step, the first
    one included, so that no loop is ever empty (a one-word sentence, or a length only known at run time)."""
    is_first = tf.equal(tf.range(tf.shape(emissions)[1]), 0)
    return tf.transpose(emissions, [1, 0, 2]), tf.transpose(tf.cast(mask, tf.bool)), is_first


def crf_log_norm(emissions: tf.Tensor, mask: tf.Tensor, transitions: tf.Tensor, start: tf.Tensor,
                 end: tf.Tensor) -> tf.Tensor:
    """log Z [B]: the log-sum-exp of the scores of every tag sequence (the forward algorithm)."""
    def step(alpha, inputs):
        emission, valid, is_first = inputs
        moved = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1) + emission
        moved = tf.where(is_first, start[None] + emission, moved)
        return tf.where(valid[:, None] | is_first, moved, alpha)

    alpha = tf.foldl(step, _time_major_steps(emissions, mask), initializer=tf.zeros_like(emissions[:, 0]))
    log_norm = tf.reduce_logsumexp(alpha + end[None], axis=1)
    return tf.where(tf.reduce_any(tf.cast(mask, tf.bool), axis=1), log_norm, tf.zeros_like(log_norm))


def crf_log_likelihood(emissions, tags, mask, transitions, start, end) -> tf.Tensor:
    """log p(tags | emissions) [B]; 0 for an empty sequence."""
    return (crf_sequence_score(emissions, tags, mask, transitions, start, end)
            - crf_log_norm(emissions, mask, transitions, start, end))


def viterbi_decode(emissions: tf.Tensor, mask: tf.Tensor, transitions: tf.Tensor, start: tf.Tensor,
                   end: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The best tag sequence [B, T] (int32, 0 where `mask` is 0) and its score [B]."""
    identity = tf.broadcast_to(tf.range(tf.shape(emissions)[2])[None], tf.shape(emissions[:, 0]))

    def forward(carry, inputs):
        score, _ = carry
        emission, valid, is_first = inputs
        candidates = score[:, :, None] + transitions[None]  # [B, from, to]
        best_previous = tf.argmax(candidates, axis=1, output_type=tf.int32)
        moved = tf.where(is_first, start[None], tf.reduce_max(candidates, axis=1)) + emission
        # A padded step keeps the score and points every tag at itself, so the backtrack passes through.
        keep = valid[:, None] | is_first
        return tf.where(keep, moved, score), tf.where(keep, best_previous, identity)

    scores, pointers = tf.scan(forward, _time_major_steps(emissions, mask),
                               initializer=(tf.zeros_like(emissions[:, 0]), identity))  # [T, B, K] each
    final = scores[-1] + end[None]
    last_tag = tf.argmax(final, axis=1, output_type=tf.int32)

    def backward(tag, step_pointers):
        return tf.gather(step_pointers, tag, axis=1, batch_dims=1)

    # Output t is the tag at t - 1 (the first step's pointers lead nowhere and are dropped).
    previous = tf.scan(backward, pointers, initializer=last_tag, reverse=True)
    tags = tf.concat([tf.transpose(previous[1:]), last_tag[:, None]], axis=1)
    mask = tf.cast(mask, tf.bool)
    tags = tf.where(mask, tags, tf.zeros_like(tags))
    best = tf.reduce_max(final, axis=1)
    return tags, tf.where(tf.reduce_any(mask, axis=1), best, tf.zeros_like(best))


@keras.saving.register_keras_serializable(package="electra_tf")
class LinearChainCrf(keras.layers.Layer):
    """Transition, start and end scores of a linear-chain CRF over `num_tags` tags.

    Args:
        num_tags: int. The number of tags.
        allowed: K x K booleans or None. `allowed[i][j]`: tag j may follow tag i. None allows everything.
        allowed_start: K booleans or None. Tags a sequence may start with.
        allowed_end: K booleans or None. Tags a sequence may end with.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Calling the layer on emissions [B, T, K] and a mask [B, T] decodes (Viterbi): tags [B, T].

    Example:
    ```python
    import numpy as np
    crf = LinearChainCrf(3, allowed=[[True, True, False], [True, True, True], [True, True, True]])
    emissions = np.array([[[0.0, 0.0, 5.0], [9.0, 0.0, 0.0], [0.0, 0.0, 20.0]]], "float32")
    tags = crf(emissions, np.array([[1, 1, 1]]))
    assert tags.numpy().tolist() == [[2, 1, 2]]  # tag 2 after tag 0 is forbidden, so 0 -> 1 in the middle
    ```
    """

    def __init__(self, num_tags: int, allowed: Sequence[Sequence[bool]] | None = None,
                 allowed_start: Sequence[bool] | None = None, allowed_end: Sequence[bool] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = num_tags
        self.allowed = None if allowed is None else [list(map(bool, row)) for row in allowed]
        self.allowed_start = None if allowed_start is None else list(map(bool, allowed_start))
        self.allowed_end = None if allowed_end is None else list(map(bool, allowed_end))
        for name, value, shape in (("allowed", self.allowed, (num_tags, num_tags)),
                                   ("allowed_start", self.allowed_start, (num_tags,)),
                                   ("allowed_end", self.allowed_end, (num_tags,))):
            if value is not None and tf.constant(value).shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tf.constant(value).shape}.")

    def build(self, input_shape=None):
        zeros = keras.initializers.Zeros()
        self.transitions = self.add_weight(name="transitions", shape=(self.num_tags, self.num_tags),
                                           initializer=zeros)
        self.start = self.add_weight(name="start", shape=(self.num_tags,), initializer=zeros)
        self.end = self.add_weight(name="end", shape=(self.num_tags,), initializer=zeros)
        self.built = True

    def scores(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(transitions, start, end) with the forbidden entries at `FORBIDDEN`."""
        def constrain(weights, allowed):
            weights = tf.convert_to_tensor(weights)
            if allowed is None:
                return weights
            return tf.where(tf.constant(allowed), weights, tf.cast(FORBIDDEN, weights.dtype))
        return (constrain(self.transitions, self.allowed), constrain(self.start, self.allowed_start),
                constrain(self.end, self.allowed_end))

    def log_likelihood(self, emissions: tf.Tensor, tags: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """log p(tags | emissions) [B] (float32)."""
        return crf_log_likelihood(tf.cast(emissions, tf.float32), tags, mask, *self.scores())

    def decode(self, emissions: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """The Viterbi tags [B, T] (int32; 0 where `mask` is 0)."""
        return viterbi_decode(tf.cast(emissions, tf.float32), mask, *self.scores())[0]

    def call(self, emissions, mask):
        return self.decode(emissions, mask)

    def get_config(self):
        config = super().get_config()
        config.update(num_tags=self.num_tags, allowed=self.allowed, allowed_start=self.allowed_start,
                      allowed_end=self.allowed_end)
        return config
