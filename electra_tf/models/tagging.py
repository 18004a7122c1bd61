"""Tag decoding as TensorFlow functions, for serving inside the graph: per-word logits from windows of
pieces, and entities (chunks) from tag ids with conlleval's rules (`electra_tf.tag_schemes.chunks`, which
the Python scorer uses; a test checks that the two agree).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from electra_tf.tag_schemes import OUTSIDE, split_tag

_OUTSIDE, _BEGIN, _INSIDE = 0, 1, 2
_PREFIX_CODES = {OUTSIDE: _OUTSIDE, "B": _BEGIN, "S": _BEGIN, "I": _INSIDE, "E": _INSIDE}  # BIOES read as IOB2


def label_tables(label_names: Sequence[str]) -> tuple[list[int], list[int], list[str]]:
    """Per label id: its prefix code (O, B or I; S- read as B-, E- as I-) and its type id; and the type names."""
    split = [split_tag(name) for name in label_names]
    types = sorted({entity_type for prefix, entity_type in split if prefix != OUTSIDE})
    return ([_PREFIX_CODES[prefix] for prefix, _ in split],
            [types.index(entity_type) if prefix != OUTSIDE else -1 for prefix, entity_type in split], types)


def entity_chunks(tags: tf.Tensor, mask: tf.Tensor, prefix_codes: Sequence[int],
                  type_ids: Sequence[int]) -> dict[str, tf.Tensor]:
    """The chunks of tag sequences [B, W] (label ids, valid where `mask`), flat over the batch in order:
    `row`, first word `start`, one-past-last word `end` and `type` (an index into the type names), each [E]."""
    mask = tf.cast(mask, tf.bool)
    prefix = tf.where(mask, tf.gather(tf.constant(prefix_codes), tags), _OUTSIDE)
    entity_type = tf.where(mask, tf.gather(tf.constant(type_ids), tags), -1)
    outside_column = tf.fill([tf.shape(tags)[0], 1], _OUTSIDE)
    none_column = tf.fill([tf.shape(tags)[0], 1], -1)
    previous_prefix = tf.concat([outside_column, prefix[:, :-1]], axis=1)
    previous_type = tf.concat([none_column, entity_type[:, :-1]], axis=1)
    next_prefix = tf.concat([prefix[:, 1:], outside_column], axis=1)
    next_type = tf.concat([entity_type[:, 1:], none_column], axis=1)
    inside = tf.not_equal(prefix, _OUTSIDE)
    starts = ((prefix == _BEGIN) | ((prefix == _INSIDE) & (previous_prefix == _OUTSIDE))
              | (inside & (previous_type != entity_type)))
    ends = inside & ((next_prefix == _BEGIN) | (next_prefix == _OUTSIDE) | (next_type != entity_type))
    start_at = tf.cast(tf.where(starts), tf.int32)  # [E, 2] (row, word), row-major: the chunks in order
    end_at = tf.cast(tf.where(ends), tf.int32)
    return {"row": start_at[:, 0], "start": start_at[:, 1], "end": end_at[:, 1] + 1,
            "type": tf.gather_nd(entity_type, start_at)}


def window_piece_values(values: tf.Tensor, padding_mask: tf.Tensor, pieces_per_text: tf.Tensor) -> tf.RaggedTensor:
    """Per-position values of windows [N, L, ...] (`[CLS] pieces [SEP]`) -> per text [B, (P), ...]: the
    windows' pieces in order, regrouped by text (`pieces_per_text` [B])."""
    length = tf.shape(padding_mask)[1]
    real = tf.reduce_sum(tf.cast(padding_mask, tf.int32), axis=1)
    positions = tf.range(length)[None]
    is_piece = (positions >= 1) & (positions < real[:, None] - 1)  # not [CLS], [SEP] or padding
    return tf.RaggedTensor.from_row_lengths(tf.boolean_mask(values, is_piece), tf.cast(pieces_per_text, tf.int64))


def last_piece_of_word(word_start: tf.RaggedTensor) -> tf.RaggedTensor:
    """[B, (P)] booleans: the piece is the last of its word (the next piece starts a word, or none follows)."""
    flat = word_start.flat_values
    next_starts = tf.concat([flat[1:], tf.ones([1], tf.bool)], axis=0)[:tf.size(flat)]
    row_ends = tf.boolean_mask(word_start.row_limits() - 1, word_start.row_lengths() > 0)
    ends_row = tf.scatter_nd(row_ends[:, None], tf.ones_like(row_ends, tf.int32), tf.shape(flat, out_type=tf.int64))
    return word_start.with_flat_values(next_starts | (ends_row > 0))
