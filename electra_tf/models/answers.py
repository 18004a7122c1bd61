"""Answers from the span head's outputs over windows, as pure TensorFlow functions: the same code decodes in
evaluation and inside an exported SavedModel.

google-research/electra's `qa_tasks.py` decoding: in each window, the beam's (start, end) pairs (or, for the
Hugging Face head, the top starts and top ends) whose start is a context piece decoded in that window
(`max_context`), whose end is a context piece of the window, not before the start and at most
`max_answer_length` pieces after it; score = start + end log-probability (logit for the Hugging Face head). An
example's answer is its best pair over all its windows. Its null odds: the lowest answerable logit over its
windows (the original head), or the lowest [CLS]-span score minus the best span's score (BERT's, for the
Hugging Face head); above the model's `null_threshold`, the answer is empty.
"""

from __future__ import annotations

import tensorflow as tf

MAX_ANSWER_LENGTH = 30  # pieces, the original's max_answer_length
NO_SPAN_SCORE = -1e9  # the score of an example without a valid span (an empty context)


def top_spans(outputs: dict[str, tf.Tensor], beam_size: int) -> tuple[tf.Tensor, ...]:
    """The candidate (start, end) positions and scores of each window, [N, K, K] each: the original head's
    beam, or the Hugging Face head's top starts x top ends."""
    if "start_top_index" in outputs:
        return (tf.broadcast_to(outputs["start_top_index"][:, :, None], tf.shape(outputs["end_top_index"])),
                outputs["end_top_index"],
                outputs["start_top_log_probs"][:, :, None] + outputs["end_top_log_probs"])
    k = tf.minimum(beam_size, tf.shape(outputs["start_logits"])[1])
    start_scores, starts = tf.math.top_k(outputs["start_logits"], k=k)
    end_scores, ends = tf.math.top_k(outputs["end_logits"], k=k)
    shape = tf.stack([tf.shape(starts)[0], k, k])
    return (tf.broadcast_to(starts[:, :, None], shape), tf.broadcast_to(ends[:, None, :], shape),
            start_scores[:, :, None] + end_scores[:, None, :])


def best_window_spans(starts: tf.Tensor, ends: tf.Tensor, scores: tf.Tensor, max_context: tf.Tensor,
                      context_mask: tf.Tensor, max_answer_length: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Each window's best valid span among its candidates [N, K, K]: (start, end, score) [N]; the score is
    `NO_SPAN_SCORE` when no candidate is valid."""
    at = lambda mask, positions: tf.gather(mask, positions, batch_dims=1)
    flat = lambda positions: tf.reshape(positions, [tf.shape(positions)[0], -1])
    starts, ends, scores = flat(starts), flat(ends), flat(scores)
    valid = (at(max_context, starts) & at(context_mask, ends) & (ends >= starts)
             & (ends - starts < max_answer_length))
    scores = tf.where(valid, scores, NO_SPAN_SCORE)
    best = tf.argmax(scores, axis=1, output_type=tf.int32)
    pick = lambda values: tf.gather(values, best, batch_dims=1)
    return pick(starts), pick(ends), pick(scores)


def null_scores(outputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """Each window's no-answer score [N]: the answerable logit (positive: no answer), or the [CLS] span's."""
    if "answerable_logits" in outputs:
        return outputs["answerable_logits"]
    return outputs["start_logits"][:, 0] + outputs["end_logits"][:, 0]


def context_mask(segment_ids: tf.Tensor, padding_mask: tf.Tensor) -> tf.Tensor:
    """The context pieces of each window [N, L]: segment 1 without the final [SEP]."""
    last = tf.reduce_sum(padding_mask, axis=1, keepdims=True) - 1
    return (segment_ids == 1) & (tf.range(tf.shape(segment_ids)[1])[None, :] < last)


def best_answers(window_example: tf.Tensor, num_examples: tf.Tensor, window_scores: tf.Tensor,
                 window_nulls: tf.Tensor, has_answerable_head: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """The window holding each example's best span [B] and the example's null odds [B]."""
    segments = tf.cast(window_example, tf.int32)
    best_score = tf.math.unsorted_segment_max(window_scores, segments, num_examples)
    window = tf.range(tf.shape(window_scores)[0])
    is_best = tf.equal(window_scores, tf.gather(best_score, segments))
    best_window = tf.math.unsorted_segment_min(tf.where(is_best, window, tf.int32.max), segments, num_examples)
    null = tf.math.unsorted_segment_min(window_nulls, segments, num_examples)
    return best_window, null if has_answerable_head else null - best_score
