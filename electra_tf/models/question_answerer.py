"""`ElectraQuestionAnswerer`: extractive question answering (SQuAD 1.1 / 2.0): an answer span in the context."""

from __future__ import annotations

import functools
from typing import Callable

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS, INPUT_KEYS
from electra_tf.layers.activations import gelu
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel
from electra_tf.models.answers import (MAX_ANSWER_LENGTH, NO_SPAN_SCORE, best_answers, best_window_spans,
                                       context_mask, null_scores, top_spans)
from electra_tf.models.masking import gather_positions
from electra_tf.text.question_answering import QuestionAnsweringPreprocessor
from electra_tf.text.tokenizer import character_offsets

HEADS = ("original", "huggingface")
# Added to the logits of tokens that cannot start or end an answer, as the original does.
_EXCLUDED = -1000.0
ANSWERABLE_WEIGHT = 0.5  # the original's answerable_weight


@registry.register
class ElectraQuestionAnswerer(EncoderModel):
    """An ELECTRA encoder with a span-extraction head, for `[CLS] question [SEP] context [SEP]` inputs.

    An answer may start and end only on a context token (segment 1) or on [CLS], which stands for "no
    answer"; every other position's logit gets -1000, as in the original.

    `head="original"` is ELECTRA's SQuAD head (google-research/electra `qa_tasks.py`, `joint_prediction`):
    start logits from one Dense; end logits conditioned on the start, `Dense(1)(gelu(Dense(512)([h_start;
    h_end])))`; and an answerability classifier on [CLS] and the start-probability-weighted hidden state.
    With `start_positions` (training: the gold starts) the end logits are those given that start; without,
    the model runs the original's beam: the top `beam_size` starts, and for each the top `beam_size` ends.
    `head="huggingface"` is `ElectraForQuestionAnswering`'s single Dense(2) (start and end independent, no
    answerability classifier), so converted Hugging Face models load.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        head: str. `"original"` or `"huggingface"`. Defaults to `"original"`.
        beam_size: int. Starts, and ends per start, kept at inference by the original head. Defaults to `20`.
        head_hidden_size: int. Width of the original head's two hidden layers. Defaults to `512`.
        max_answer_length: int. The longest answer `answer` returns, in pieces. Defaults to `30`.
        null_threshold: float or None. `answer` abstains (returns "") when an example's null odds exceed it
            (SQuAD 2.0; fine-tuning sets it to the best dev threshold); None never abstains. Defaults to None.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    reader = ElectraQuestionAnswerer(config, beam_size=3)
    inputs = {"token_ids": np.array([[101, 5, 102, 7, 8, 9, 102]]), "padding_mask": np.ones((1, 7), "int32"),
              "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1]])}
    outputs = reader(inputs)
    assert tuple(outputs["end_top_index"].shape) == (1, 3, 3)  # 3 ends for each of the 3 best starts
    assert int(outputs["start_top_index"][0, 0]) in (0, 3, 4, 5, 6)  # [CLS] or the context
    ```
    """

    TASK_TYPE = "question_answering"
    OVERRIDABLE_SETTINGS = ("beam_size", "max_answer_length", "null_threshold")
    PREPROCESSOR_CLASS = QuestionAnsweringPreprocessor

    def __init__(self, config: ElectraConfig, *, head: str = "original", beam_size: int = 20,
                 head_hidden_size: int = 512, max_answer_length: int = MAX_ANSWER_LENGTH,
                 null_threshold: float | None = None, **kwargs):
        super().__init__(config, **kwargs)
        if head not in HEADS:
            raise ValueError(f"Unknown head {head!r}; choose one of {HEADS}.")
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}.")
        self.head = head
        self.beam_size = beam_size
        self.head_hidden_size = head_hidden_size
        self.max_answer_length = max_answer_length
        self.null_threshold = null_threshold
        # float32 logits under mixed precision: the softmaxes and the -1000 masking stay exact.
        logits_layer = functools.partial(keras.layers.Dense, dtype="float32")
        hidden_layer = functools.partial(keras.layers.Dense, head_hidden_size, activation=gelu,
                                         dtype=self.dtype_policy)
        if head == "huggingface":
            self.span_logits = logits_layer(2, name="span_logits")
        else:
            self.start_logits = logits_layer(1, name="start_logits")
            self.end_hidden = hidden_layer(name="end_hidden")
            self.end_logits = logits_layer(1, name="end_logits")
            self.answerable_hidden = hidden_layer(name="answerable_hidden")
            self.answerable_logits = logits_layer(1, name="answerable_logits")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        if self.head == "huggingface":
            self.span_logits.build((None, None, hidden_size))
        else:
            self.start_logits.build((None, None, hidden_size))
            self.end_hidden.build((None, None, 2 * hidden_size))
            self.end_logits.build((None, None, self.head_hidden_size))
            self.answerable_hidden.build((None, 2 * hidden_size))
            self.answerable_logits.build((None, self.head_hidden_size))

    def settings(self) -> dict:
        return {"head": self.head, "beam_size": self.beam_size, "head_hidden_size": self.head_hidden_size,
                "max_answer_length": self.max_answer_length, "null_threshold": self.null_threshold}

    def call(self, inputs, training=None):
        """Span logits for a dict of `token_ids`, `segment_ids`, `padding_mask` (each [B, L]) and, to score
        ends given known starts (training), `start_positions` [B].

        Returns:
            A dict of float32 tensors. `start_logits` [B, L]; `end_logits` [B, L] (the original head: given
            `start_positions`); with the original head also `answerable_logits` [B] (positive: no answer),
            and without `start_positions` the beam: `start_top_log_probs`, `start_top_index` [B, K],
            `end_top_log_probs`, `end_top_index` [B, K, K] (ends of the k-th start).
        """
        hidden = self.encoder({key: inputs[key] for key in INPUT_KEYS}, training=training)
        padding_mask = tf.cast(inputs["padding_mask"], tf.float32)
        answer_mask = padding_mask * tf.cast(inputs["segment_ids"], tf.float32)
        answer_mask = tf.maximum(answer_mask, tf.one_hot(0, tf.shape(answer_mask)[1]))  # + [CLS]
        exclusion = _EXCLUDED * (1.0 - answer_mask)
        if self.head == "huggingface":
            start_logits, end_logits = tf.unstack(self.span_logits(hidden), axis=-1)
            return {"start_logits": start_logits + exclusion, "end_logits": end_logits + exclusion}

        start_logits = tf.squeeze(self.start_logits(hidden), -1) + exclusion
        outputs = {"start_logits": start_logits,
                   "answerable_logits": self._answerable_logits(hidden, start_logits)}
        if "start_positions" in inputs:
            starts = tf.reshape(tf.cast(inputs["start_positions"], tf.int32), [-1, 1])
            outputs["end_logits"] = self._end_logits(hidden, starts)[:, 0] + exclusion
            return outputs
        beam = tf.minimum(self.beam_size, tf.shape(hidden)[1])
        outputs["start_top_log_probs"], outputs["start_top_index"] = tf.math.top_k(
            tf.nn.log_softmax(start_logits), k=beam)
        end_logits = self._end_logits(hidden, outputs["start_top_index"]) + exclusion[:, None, :]
        outputs["end_top_log_probs"], outputs["end_top_index"] = tf.math.top_k(tf.nn.log_softmax(end_logits), k=beam)
        return outputs

    def _end_logits(self, hidden: tf.Tensor, starts: tf.Tensor) -> tf.Tensor:
        """End logits [B, K, L] given K start positions [B, K] per example.

        The original applies `end_hidden` to the concatenation [h_start; h_end] of every (start, end)
        pair, a [B, K, L, 2H] tensor; splitting its kernel into the start and end halves gives the same
        sum from [B, K, 512] and [B, L, 512] pieces.
        """
        kernel = tf.cast(self.end_hidden.kernel, hidden.dtype)
        size = hidden.shape[-1]
        start_part = tf.matmul(gather_positions(hidden, starts), kernel[:size])  # [B, K, 512]
        end_part = tf.matmul(hidden, kernel[size:])  # [B, L, 512]
        pairs = start_part[:, :, None, :] + end_part[:, None, :, :] + tf.cast(self.end_hidden.bias, hidden.dtype)
        return tf.squeeze(self.end_logits(self.end_hidden.activation(pairs)), -1)

    def _answerable_logits(self, hidden: tf.Tensor, start_logits: tf.Tensor) -> tf.Tensor:
        start_probabilities = tf.cast(tf.nn.softmax(start_logits), hidden.dtype)
        expected_start = tf.einsum("bl,blh->bh", start_probabilities, hidden)
        features = tf.concat([hidden[:, 0], expected_start], axis=-1)
        return tf.squeeze(self.answerable_logits(self.answerable_hidden(features)), -1)

    # --- Answers from raw text ---
    def answer(self, questions, contexts, forward: Callable | None = None) -> dict[str, tf.Tensor]:
        """Answers to a batch of questions on contexts (strings [B]), decoded over every window of each context
        (`electra_tf.models.answers`), in the graph. `forward` runs the model on the windows' id inputs
        (default: this model in inference mode; serving passes its XLA-compiled one).

        Returns:
            A dict of [B] tensors: `answer` (the context's text, "" when abstaining), `start`, `end` (its
            character span in the context; 0, 0 when empty), `score` (the span's), `null_odds`, `answerable`,
            and `best_span` (the best non-empty answer even when abstaining, as SQuAD 2.0 prediction files hold).
        """
        contexts = tf.reshape(tf.convert_to_tensor(contexts, tf.string), [-1])
        windows = self.preprocessor.encode(questions, contexts)
        inputs = {key: windows[key] for key in INPUT_KEYS}
        outputs = forward(inputs) if forward else self(inputs, training=False)
        starts, ends, scores = best_window_spans(
            *top_spans(outputs, self.beam_size), windows["max_context"],
            context_mask(inputs["segment_ids"], inputs["padding_mask"]), self.max_answer_length)
        best_window, null_odds = best_answers(windows["window_example"], tf.shape(contexts)[0], scores,
                                              null_scores(outputs), self.head == "original")
        # Window positions -> context pieces -> byte spans of the context.
        piece = lambda positions: (tf.gather(windows["window_start"] - windows["context_offset"], best_window)
                                   + tf.cast(tf.gather(positions, best_window), tf.int64))
        first_piece = windows["piece_starts"].row_splits[:-1]
        found = tf.gather(scores, best_window) > NO_SPAN_SCORE

        def piece_bytes(offsets, positions):  # a row without a span (an empty context) reads a padding 0
            flat = offsets.flat_values
            index = tf.clip_by_value(first_piece + piece(positions), 0, tf.size(flat, out_type=tf.int64))
            return tf.gather(tf.concat([flat, tf.zeros([1], flat.dtype)], 0), index)

        byte_start = tf.where(found, piece_bytes(windows["piece_starts"], starts), 0)
        byte_end = tf.where(found, piece_bytes(windows["piece_ends"], ends), 0)
        answerable = found
        if self.null_threshold is not None:
            answerable &= null_odds <= self.null_threshold
        answer_start, answer_end = (tf.where(answerable, offsets, 0) for offsets in (byte_start, byte_end))
        return {"answer": tf.strings.substr(contexts, answer_start, answer_end - answer_start),
                "start": character_offsets(contexts, answer_start), "end": character_offsets(contexts, answer_end),
                "score": tf.gather(scores, best_window), "null_odds": null_odds, "answerable": answerable,
                "best_span": tf.strings.substr(contexts, byte_start, byte_end - byte_start)}

    # --- Training ---
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The original objective: the mean of the start and end cross-entropies, plus (original head)
        0.5 x the answerability sigmoid cross-entropy. `y` holds `start_positions`, `end_positions` [B] and,
        for SQuAD 2.0, `is_impossible` [B] (1: no answer; its span is [CLS], position 0)."""
        start_loss = keras.losses.sparse_categorical_crossentropy(y["start_positions"], y_pred["start_logits"],
                                                                  from_logits=True)
        end_loss = keras.losses.sparse_categorical_crossentropy(y["end_positions"], y_pred["end_logits"],
                                                                from_logits=True)
        losses = (start_loss + end_loss) / 2.0
        if "answerable_logits" in y_pred:
            impossible = tf.cast(y.get("is_impossible", tf.zeros_like(y["start_positions"])), tf.float32)
            losses += ANSWERABLE_WEIGHT * tf.nn.sigmoid_cross_entropy_with_logits(
                impossible, y_pred["answerable_logits"])
        if sample_weight is not None:
            losses *= tf.cast(sample_weight, losses.dtype)
        # The mean over the global batch: each replica's share, summed by the strategy's all-reduce.
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return tf.reduce_mean(losses) / num_replicas + (tf.add_n(self.losses) if self.losses else 0.0)
