"""`QuestionAnsweringPreprocessor`: questions and contexts -> windows `[CLS] question [SEP] context piece
[SEP]`, with every context piece's byte span in the original context, in the TensorFlow graph.

The windows are google-research/electra's (and BERT's) `qa_tasks` features: the question cut to
`max_question_length` pieces; the context in windows of `sequence_length - 3 - question pieces` pieces, each
starting `doc_stride` pieces after the previous one, until one reaches the end. A piece seen in several windows
is decoded only in the window where it has the most context: the highest `min(pieces left, pieces right) + 0.01
x window length`, the first such window on a tie (`max_context`).

Offsets come from the tokenizer's `tokenize_with_offsets`: UTF-8 byte spans of the original context (not of the
lower-cased, accent-stripped text it tokenizes), so a span of pieces is a substring of the context, and SQuAD's
character `answer_start` converts to bytes exactly (`answer_piece_span`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from electra_tf.inputs import INPUT_KEYS
from electra_tf.text.preprocessor import TokenizingLayer
from electra_tf.text.tokenizer import WordPieceTokenizer

MAX_QUESTION_LENGTH = 64  # the original's max_query_length
DOC_STRIDE = 128  # the original's doc_stride


@keras.saving.register_keras_serializable(package="electra_tf")
class QuestionAnsweringPreprocessor(TokenizingLayer):
    """Windows of `[CLS] question [SEP] context [SEP]` over whole contexts (`encode`).

    Args:
        tokenizer: `WordPieceTokenizer`.
        sequence_length: int. Tokens per window. Defaults to `512` (the original's).
        max_question_length: int. Question pieces kept (the rest is cut). Defaults to `64`.
        doc_stride: int. Context pieces between the starts of consecutive windows. Defaults to `128`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import pathlib, tempfile
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "?", "a", "b", "c", "d"]
    path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    path.write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    preprocessor = QuestionAnsweringPreprocessor(WordPieceTokenizer(path), sequence_length=7,
                                                 max_question_length=2, doc_stride=1)
    windows = preprocessor.encode(["Who?"], ["a b c"])  # 7 - 3 - 2 question pieces: 2 context pieces a window
    assert windows["token_ids"].numpy().tolist() == [[2, 5, 6, 3, 7, 8, 3], [2, 5, 6, 3, 8, 9, 3]]
    assert windows["window_start"].numpy().tolist() == [0, 1]  # the first context piece of each window
    assert windows["max_context"].numpy()[:, 4:6].tolist() == [[True, True], [False, True]]
    ```
    """

    text_pair = True  # a question and a context per example

    def __init__(self, tokenizer: WordPieceTokenizer, sequence_length: int = 512,
                 max_question_length: int = MAX_QUESTION_LENGTH, doc_stride: int = DOC_STRIDE, **kwargs):
        kwargs.pop("text_pair", None)  # what `EncoderModel.from_pretrained` may pass; QA always reads pairs
        if sequence_length < max_question_length + 4:
            raise ValueError(f"sequence_length {sequence_length} leaves no room for context after a question of "
                             f"max_question_length {max_question_length} pieces, [CLS] and two [SEP]s.")
        if doc_stride < 1:
            raise ValueError(f"doc_stride must be at least 1, got {doc_stride}.")
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.max_question_length = max_question_length
        self.doc_stride = doc_stride

    def settings(self) -> dict:
        return {**super().settings(), "max_question_length": self.max_question_length,
                "doc_stride": self.doc_stride}

    def encode(self, questions, contexts) -> dict[str, tf.Tensor | tf.RaggedTensor]:
        """The windows of a batch of questions and contexts [B] (strings), in the graph.

        Returns:
            A dict: the model inputs (`token_ids`, `segment_ids`, `padding_mask`, [N, L]); per window [N]:
            `window_example` (its example), `window_start` (its first context piece), `context_offset` (the
            position of that piece); `max_context` [N, L] (the context positions decoded in this window); and
            per example [B, (P)]: `piece_starts`, `piece_ends` (byte spans in the context); and per example
            [B]: `question_pieces` (the question's pieces before the cut to `max_question_length`).
        """
        questions = tf.reshape(tf.convert_to_tensor(questions, tf.string), [-1])
        contexts = tf.reshape(tf.convert_to_tensor(contexts, tf.string), [-1])
        whole_question_ids = self.tokenizer.tokenize(questions)
        question_ids = whole_question_ids[:, :self.max_question_length]
        context_ids, piece_starts, piece_ends = self.tokenizer.tokenize_with_offsets(contexts)
        question_lengths = question_ids.row_lengths()
        window_size = self.sequence_length - 3 - question_lengths  # [B]
        stride = tf.minimum(window_size, self.doc_stride)  # the original never skips a piece
        context_lengths = context_ids.row_lengths()
        num_windows = 1 + tf.maximum(tf.constant(0, tf.int64), -(-(context_lengths - window_size) // stride))
        example = tf.repeat(tf.range(tf.shape(contexts, out_type=tf.int64)[0]), num_windows)
        start = tf.ragged.range(num_windows).flat_values * tf.gather(stride, example)
        length = tf.minimum(tf.gather(window_size, example), tf.gather(context_lengths, example) - start)
        positions = tf.ragged.range(length)
        pieces = tf.gather(context_ids.flat_values,
                           (tf.gather(context_ids.row_splits, example) + start)[:, None] + positions)
        rows = tf.shape(example)[0]
        edge = lambda token_id: tf.fill([rows, 1], tf.constant(token_id, tf.int32))
        window_question = tf.gather(question_ids, example)
        token_ids = tf.concat([edge(self.tokenizer.cls_token_id), window_question, edge(self.tokenizer.sep_token_id),
                               pieces, edge(self.tokenizer.sep_token_id)], axis=1)
        token_ids = token_ids.to_tensor(self.tokenizer.pad_token_id, shape=[None, self.sequence_length])
        context_offset = tf.gather(question_lengths, example) + 2
        segment_ids = tf.cast(tf.range(self.sequence_length, dtype=tf.int64)[None, :] >= context_offset[:, None],
                              tf.int32)
        padding_mask = tf.cast(tf.not_equal(token_ids, self.tokenizer.pad_token_id), tf.int32)
        segment_ids *= padding_mask
        # Each piece's decoding flag at its position in its window.
        window = tf.repeat(tf.range(tf.cast(rows, tf.int64)), length)
        column = tf.repeat(context_offset, length) + positions.flat_values
        decoded_here = _max_context(example, start, length, context_ids.row_splits)
        max_context = tf.scatter_nd(tf.stack([window, column], axis=1), tf.cast(decoded_here, tf.int32),
                                    tf.stack([tf.cast(rows, tf.int64), self.sequence_length]))
        return {**dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask))),
                "window_example": example, "window_start": start, "context_offset": context_offset,
                "max_context": tf.cast(max_context, tf.bool),
                "piece_starts": piece_starts, "piece_ends": piece_ends,
                "question_pieces": whole_question_ids.row_lengths()}

    def call(self, inputs):
        questions, contexts = inputs
        return {name: value for name, value in self.encode(questions, contexts).items() if name in INPUT_KEYS}


def _max_context(example: tf.Tensor, start: tf.Tensor, length: tf.Tensor, row_splits: tf.Tensor) -> tf.Tensor:
    """Whether each piece of each window [N, (length)] is decoded there: its window of the highest
    min(left, right) + 0.01 x length, the first one on a tie."""
    positions = tf.ragged.range(length)
    window_length = tf.cast(length, tf.float32)[:, None]
    offset = tf.cast(positions, tf.float32)
    score = (tf.minimum(offset, window_length - 1 - offset) + 0.01 * window_length).flat_values
    piece = ((tf.gather(row_splits, example) + start)[:, None] + positions).flat_values  # global piece index
    window = tf.repeat(tf.range(tf.shape(length, out_type=tf.int64)[0]), length)
    num_pieces = row_splits[-1]
    best = tf.math.unsorted_segment_max(score, piece, num_pieces)
    is_best = tf.equal(score, tf.gather(best, piece))
    first_best = tf.math.unsorted_segment_min(tf.where(is_best, window, tf.int64.max), piece, num_pieces)
    return tf.equal(window, tf.gather(first_best, piece))


def answer_piece_span(context: str, answer_start: int, answer: str, piece_starts: np.ndarray,
                      piece_ends: np.ndarray) -> tuple[int, int] | None:
    """The first and last context pieces covering a gold answer (given by its character start and text), or
    None when no piece does (an answer in text the tokenizer drops)."""
    byte_start = len(context[:answer_start].encode("utf-8"))
    byte_end = byte_start + len(answer.encode("utf-8"))
    covering = np.flatnonzero((piece_ends > byte_start) & (piece_starts < byte_end))
    if not len(covering):
        return None
    return int(covering[0]), int(covering[-1])
