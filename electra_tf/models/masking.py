"""The tensor mechanics of replaced-token detection, as pure TensorFlow functions.

Follows google-research/electra `pretrain/pretrain_helpers.py`. Shapes: B batch, L sequence length,
N mask slots per example (fixed, so XLA and TPUs compile once), V vocabulary. Randomness comes from
stateless ops keyed by an explicit `seed` ([2] int tensor), so a step is reproducible from its seed.

Example:
```python
import tensorflow as tf
from electra_tf.models import masking
ids = tf.constant([[101, 7, 8, 9, 102, 0]])
positions, weights = masking.select_positions(
    ids, padding_mask=tf.constant([[1, 1, 1, 1, 1, 0]]), mask_prob=0.5, max_predictions=3,
    special_token_ids=(101, 102, 103), seed=tf.constant([1, 2]))
masked = masking.apply_masks(ids, positions, weights, mask_token_id=103, mask_token_rate=1.0,
                             seed=tf.constant([3, 4]))
assert int(tf.reduce_sum(tf.cast(masked == 103, tf.int32))) == int(tf.reduce_sum(weights))
```
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

# Named, not TF's default "auto_select": that draws the same numbers outside XLA but runs about 80x slower
# under XLA on CPU (the Gumbel noise alone is a uniform per vocabulary entry and mask slot).
RNG_ALGORITHM = "philox"


def candidate_mask(token_ids: tf.Tensor, padding_mask: tf.Tensor, special_token_ids: Sequence[int]) -> tf.Tensor:
    """[B, L] bool: real tokens that may be masked (not padding, not [CLS]/[SEP]/[MASK])."""
    candidates = tf.cast(padding_mask, tf.bool)
    for token_id in special_token_ids:
        candidates &= token_ids != token_id
    return candidates


def select_positions(
    token_ids: tf.Tensor,
    padding_mask: tf.Tensor,
    *,
    mask_prob: float,
    max_predictions: int,
    special_token_ids: Sequence[int],
    seed: tf.Tensor,
    with_replacement: bool = False,
    word_starts: tf.Tensor | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Chooses the positions the generator predicts.

    Each example gets `max(1, min(N, round(num_tokens * mask_prob)))` positions among its candidates,
    where `num_tokens` counts all real tokens ([CLS]/[SEP] included), as the original does. With
    `word_starts`, whole words (`select_whole_words`) within that budget.

    Args:
        token_ids: [B, L] int token ids.
        padding_mask: [B, L], 1 for real tokens.
        mask_prob: float. Share of tokens to predict.
        max_predictions: int. N, the number of slots.
        special_token_ids: ids never selected.
        seed: [2] int tensor for the stateless sampler.
        with_replacement: bool. False (default) draws distinct positions; True reproduces the
            original's `tf.random.categorical` draw, where a position can fill two slots.
        word_starts: [B, L] bool or int, or None. Where each word begins (whole-word masking).

    Returns:
        `positions` [B, N] int32 (0 in unused slots) and `weights` [B, N] float32 (1 for used slots).
    """
    candidates = candidate_mask(token_ids, padding_mask, special_token_ids)
    num_tokens = tf.reduce_sum(tf.cast(padding_mask, tf.float32), axis=1)
    num_to_predict = tf.clip_by_value(tf.round(num_tokens * mask_prob), 1.0, float(max_predictions))
    slot_in_use = tf.range(max_predictions, dtype=tf.float32)[None, :] < num_to_predict[:, None]
    if word_starts is not None:
        if with_replacement:
            raise ValueError("Whole-word masking draws distinct words: it cannot sample with replacement.")
        selected = select_whole_words(candidates, word_starts, num_to_predict, seed)
        # The selected tokens (at most N) into the slots, in position order.
        length = tf.shape(token_ids)[1]
        order = tf.where(selected, tf.range(length, 0, -1)[None, :], -1)
        top_order, positions = tf.math.top_k(order, k=max_predictions)
        slot_in_use &= top_order >= 0
    elif with_replacement:
        logits = tf.math.log(tf.cast(candidates, tf.float32))
        positions = tf.random.stateless_categorical(logits, max_predictions, seed, dtype=tf.int32)
        has_candidate = tf.reduce_any(candidates, axis=1, keepdims=True)
        slot_in_use &= has_candidate
    else:
        # Random scores for candidates, -1 for the rest: the top N are N distinct uniform draws.
        scores = tf.random.stateless_uniform(tf.shape(token_ids), seed, alg=RNG_ALGORITHM)
        scores = tf.where(candidates, scores, -1.0)
        top_scores, positions = tf.math.top_k(scores, k=max_predictions)
        slot_in_use &= top_scores >= 0.0  # fewer candidates than slots
    weights = tf.cast(slot_in_use, tf.float32)
    positions = tf.where(slot_in_use, positions, 0)
    return positions, weights


def select_whole_words(candidates: tf.Tensor, word_starts: tf.Tensor, num_to_predict: tf.Tensor,
                       seed: tf.Tensor) -> tf.Tensor:
    """[B, L] bool: whole words in random order, while they fit in each example's `num_to_predict` [B] tokens.

    A word is a start token and the tokens up to the next start (English: a piece and its "##" pieces;
    Chinese: the characters of a segmented word); every token of a selected word is selected, so the
    generator predicts, and the discriminator judges, each of them (RTD labels stay per token). Words are
    taken in a random order until the next one would overflow the budget, so an example may get up to one
    word fewer tokens than `num_to_predict` (BERT's `create_pretraining_data.py` skips that word and tries
    further ones; a fixed-shape prefix keeps this XLA-friendly). Shapes stay static.
    """
    length = tf.shape(candidates)[1]
    # Every non-candidate ([CLS], [SEP], padding) is a word of its own, and so is what follows one.
    after_non_candidate = tf.pad(~candidates[:, :-1], [[0, 0], [1, 0]], constant_values=True)
    starts = tf.cast(word_starts, tf.bool) | ~candidates | after_non_candidate
    word = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1  # [B, L] word index of each token
    sizes = tf.reduce_sum(tf.one_hot(word, length, dtype=tf.int32) * tf.cast(candidates, tf.int32)[..., None],
                          axis=1)  # [B, words]: candidate tokens per word
    scores = tf.random.stateless_uniform(tf.shape(candidates), seed, alg=RNG_ALGORITHM)
    scores = tf.where(sizes > 0, scores, -1.0)  # words without candidate tokens come last
    order = tf.argsort(scores, axis=1, direction="DESCENDING")
    fits = tf.cumsum(tf.gather(sizes, order, batch_dims=1), axis=1) <= tf.cast(num_to_predict, tf.int32)[:, None]
    chosen_words = tf.gather(fits, tf.argsort(order, axis=1), batch_dims=1)  # back to word order
    return tf.gather(chosen_words, word, batch_dims=1) & candidates


def gather_positions(sequence: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """Gathers [B, N, ...] from a [B, L, ...] sequence at [B, N] positions."""
    return tf.gather(sequence, positions, batch_dims=1)


def scatter_update(token_ids: tf.Tensor, updates: tf.Tensor, positions: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Writes [B, N] `updates` into [B, L] `token_ids` at the used slots' positions.

    Where two used slots hold the same position (only when sampling with replacement), the value
    written is the integer mean of their updates, exactly as the original `scatter_update` does.
    """
    sequence_length = tf.shape(token_ids)[1]
    slot_hits = tf.one_hot(positions, sequence_length, dtype=tf.int32) * tf.cast(weights, tf.int32)[..., None]
    hits = tf.reduce_sum(slot_hits, axis=1)  # [B, L]
    totals = tf.reduce_sum(slot_hits * tf.cast(updates, tf.int32)[..., None], axis=1)
    written = totals // tf.maximum(hits, 1)
    return tf.where(hits > 0, tf.cast(written, token_ids.dtype), token_ids)


def apply_masks(
    token_ids: tf.Tensor,
    positions: tf.Tensor,
    weights: tf.Tensor,
    *,
    mask_token_id: int,
    mask_token_rate: float,
    seed: tf.Tensor,
    random_token_rate: float = 0.0,
    vocab_size: int | None = None,
) -> tf.Tensor:
    """Replaces each selected token by [MASK] with probability `mask_token_rate`, by a token drawn uniformly
    from the vocabulary (`vocab_size` ids) with probability `random_token_rate`, else keeps it.

    ELECTRA's generator input never gets a random token (85/15/0); BERT's masked LM does (80/10/10).

    Returns:
        [B, L] masked token ids.
    """
    draw = tf.random.stateless_uniform(tf.shape(positions), seed, alg=RNG_ALGORITHM)
    originals = gather_positions(token_ids, positions)
    updates = tf.where(draw < mask_token_rate, tf.cast(mask_token_id, token_ids.dtype), originals)
    if random_token_rate > 0:
        if vocab_size is None:
            raise ValueError("Random replacement needs vocab_size.")
        random_ids = tf.random.stateless_uniform(
            tf.shape(positions), tf.random.experimental.stateless_fold_in(seed, 1), minval=0, maxval=vocab_size,
            dtype=tf.int32, alg=RNG_ALGORITHM)
        use_random = (draw >= mask_token_rate) & (draw < mask_token_rate + random_token_rate)
        updates = tf.where(use_random, tf.cast(random_ids, token_ids.dtype), updates)
    return scatter_update(token_ids, updates, positions, weights)


def sample_from_logits(logits: tf.Tensor, *, temperature: float, seed: tf.Tensor) -> tf.Tensor:
    """Samples ids [B, N] from generator logits [B, N, V] with the Gumbel-max trick.

    Runs in float32 whatever the logits' dtype (float16 Gumbel noise underflows). The samples are integer
    argmaxes, through which no gradient flows: the discriminator's loss never reaches the generator, as in
    the paper. `temperature=0` is argmax.
    """
    logits = tf.cast(logits, tf.float32)
    if temperature == 0:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    uniform = tf.random.stateless_uniform(tf.shape(logits), seed, alg=RNG_ALGORITHM)
    gumbel = -tf.math.log(-tf.math.log(uniform + 1e-9) + 1e-9)
    return tf.argmax(logits / temperature + gumbel, axis=-1, output_type=tf.int32)
