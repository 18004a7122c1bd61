"""`WordTaggingPreprocessor`: words or raw text -> windows of model inputs, one label per word.

A word is labelled on its first word-piece (google-research/electra's tagging tasks); its other pieces,
`[CLS]`, `[SEP]` and padding carry `IGNORED_LABEL`. A text of more pieces than fit (`sequence_length - 2`) is
cut into consecutive windows, each `[CLS] pieces [SEP]`: every piece is in exactly one window, so every word
has its first piece, and its label, in exactly one place, and reading the labelled positions window after
window, left to right, gives the words in order (`words_of`). Nothing is truncated.

Given words (CoNLL data), each is tokenized alone; one that tokenizes to nothing (a lone control or format
character) becomes `[UNK]`, so it still gets a label. Given raw text (serving), the words are the
tokenizer's own (whitespace and punctuation split, one per CJK character), and `encode_texts` also returns each
piece's byte span in the original text.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from electra_tf.inputs import INPUT_KEYS
from electra_tf.text.preprocessor import TokenizingLayer
from electra_tf.text.tokenizer import SUFFIX_INDICATOR, WordPieceTokenizer

# The label of positions the loss skips: word-piece continuations, [CLS]/[SEP], padding (Hugging Face's value).
IGNORED_LABEL = -100


@dataclasses.dataclass(frozen=True)
class WordWindows:
    """Windows made from pre-split words: model inputs [N, L], the labels of each word's first piece (or
    `IGNORED_LABEL`) when labels were given, where the words' first pieces are, and words per sentence."""

    inputs: dict[str, np.ndarray]
    word_mask: np.ndarray  # [N, L] bool: the first piece of a word
    words_per_sentence: list[int]
    labels: np.ndarray | None = None  # [N, L] int32

    def __len__(self) -> int:
        return len(self.word_mask)

    def words_of(self, per_position: np.ndarray) -> list[np.ndarray]:
        """Per-position values [N, L, ...] -> one array per sentence with one row per word, in order."""
        flat = per_position[self.word_mask]
        return np.split(flat, np.cumsum(self.words_per_sentence)[:-1])


def window_pieces(pieces: tf.RaggedTensor, window_size: int) -> tuple[tf.RaggedTensor, tf.Tensor]:
    """Cuts each row of `pieces` [B, (P)] into consecutive windows of at most `window_size` pieces (one empty
    window for an empty row): the windows [N, (<= window_size)] and the row each came from [N]."""
    lengths = pieces.row_lengths()
    num_windows = tf.maximum(tf.constant(1, tf.int64), (lengths + window_size - 1) // window_size)
    window_row = tf.repeat(tf.range(tf.shape(lengths, out_type=tf.int64)[0]), num_windows)
    window_start = tf.ragged.range(num_windows).flat_values * window_size
    window_lengths = tf.clip_by_value(tf.gather(lengths, window_row) - window_start, 0, window_size)
    return tf.RaggedTensor.from_row_lengths(pieces.flat_values, window_lengths), window_row


def _pack(windows: tf.RaggedTensor, first: int, last: int, padding: int, sequence_length: int) -> tf.Tensor:
    """`first` + each window + `last`, padded with `padding` to [N, sequence_length]."""
    rows = tf.shape(windows.row_lengths())[0]
    edge = lambda value: tf.fill([rows, 1], tf.cast(value, windows.dtype))
    packed = tf.concat([edge(first), windows, edge(last)], axis=1)
    return packed.to_tensor(default_value=tf.cast(padding, windows.dtype), shape=[None, sequence_length])


@keras.saving.register_keras_serializable(package="electra_tf")
class WordTaggingPreprocessor(TokenizingLayer):
    """Windows of `[CLS] pieces [SEP]` for tagging, from words (`encode_words`) or raw text (`encode_texts`).

    Args:
        tokenizer: `WordPieceTokenizer`.
        sequence_length: int. Tokens per window, `[CLS]` and `[SEP]` included; at least 3. Defaults to `128`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Calling the layer on a batch of strings gives the model inputs of their windows (see `encode_texts` for
    which text each window belongs to).

    Example:
    ```python
    import pathlib, tempfile
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "new", "york", "##er", "is", "big"]
    path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    path.write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    preprocessor = WordTaggingPreprocessor(WordPieceTokenizer(path), sequence_length=5)
    windows = preprocessor.encode_words([["New", "Yorker", "is", "big"]], labels=[[1, 2, 0, 0]])
    # 5 pieces, 3 per window: [CLS] new york ##er [SEP] / [CLS] is big [SEP] [PAD]
    assert windows.inputs["token_ids"].tolist() == [[2, 5, 6, 7, 3], [2, 8, 9, 3, 0]]
    assert windows.labels.tolist() == [[-100, 1, 2, -100, -100], [-100, 0, 0, -100, -100]]
    assert [words.tolist() for words in windows.words_of(windows.labels)] == [[1, 2, 0, 0]]
    ```
    """

    text_pair = False  # one text per request

    def __init__(self, tokenizer: WordPieceTokenizer, sequence_length: int = 128, **kwargs):
        kwargs.pop("text_pair", None)  # what `EncoderModel.from_pretrained` may pass; tagging reads single texts
        if sequence_length < 3:
            raise ValueError(f"sequence_length must be at least 3 ([CLS], a piece, [SEP]), got {sequence_length}.")
        super().__init__(tokenizer, sequence_length, **kwargs)

    @property
    def window_size(self) -> int:
        """Word-pieces per window."""
        return self.sequence_length - 2

    def _inputs(self, windows: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        token_ids = _pack(windows, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id,
                          self.tokenizer.pad_token_id, self.sequence_length)
        padding_mask = tf.cast(tf.not_equal(token_ids, self.tokenizer.pad_token_id), tf.int32)
        return dict(zip(INPUT_KEYS, (token_ids, tf.zeros_like(token_ids), padding_mask)))

    def encode_words(self, sentences: Sequence[Sequence[str]],
                     labels: Sequence[Sequence[int]] | None = None) -> WordWindows:
        """The windows of pre-split sentences (eagerly, once per split), with labels on first pieces."""
        words = [word for sentence in sentences for word in sentence]
        sizes = [len(sentence) for sentence in sentences]
        pieces = self.tokenizer.tokenize(tf.constant(words or [""], tf.string))
        counts = pieces.row_lengths().numpy()[:len(words)]
        flat = pieces.flat_values.numpy()[:counts.sum()]
        # A word without pieces becomes [UNK], so that it keeps a position and a label.
        empty = counts == 0
        flat = np.insert(flat, np.cumsum(counts)[empty] - counts[empty], self.tokenizer.unk_token_id)
        counts = np.where(empty, 1, counts)
        word_starts = np.cumsum(counts) - counts
        is_first = np.zeros(len(flat), np.int32)
        is_first[word_starts] = 1
        pieces_before_word = np.concatenate([[0], np.cumsum(counts)])
        word_bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        sentence_lengths = pieces_before_word[word_bounds[1:]] - pieces_before_word[word_bounds[:-1]]
        rows = lambda values: tf.RaggedTensor.from_row_lengths(values, tf.constant(sentence_lengths, tf.int64))
        windows, _ = window_pieces(rows(flat.astype(np.int32)), self.window_size)
        first_windows, _ = window_pieces(rows(is_first), self.window_size)
        inputs = {name: value.numpy() for name, value in self._inputs(windows).items()}
        word_mask = _pack(first_windows, 0, 0, 0, self.sequence_length).numpy().astype(bool)
        window_labels = None
        if labels is not None:
            flat_labels = np.array([label for sentence in labels for label in sentence], np.int32)
            if len(flat_labels) != len(words):
                raise ValueError(f"{len(words)} words but {len(flat_labels)} labels.")
            window_labels = np.full(word_mask.shape, IGNORED_LABEL, np.int32)
            window_labels[word_mask] = flat_labels
        return WordWindows(inputs, word_mask, sizes, window_labels)

    def encode_texts(self, texts: tf.Tensor) -> dict[str, tf.Tensor | tf.RaggedTensor]:
        """Windows of raw texts [B], in the graph.

        Returns:
            A dict: the model inputs of the windows (`token_ids`, `segment_ids`, `padding_mask`, [N, L]),
            `window_text` [N] (the text each window comes from), and per text [B, (P)]: `piece_starts`,
            `piece_ends` (byte offsets into the original text) and `word_start` (a piece that begins a word).
        """
        ids, starts, ends = self.tokenizer.tokenize_with_offsets(texts)
        windows, window_text = window_pieces(ids, self.window_size)
        word_start = tf.logical_not(tf.strings.regex_full_match(
            self.tokenizer.id_to_token(ids), f"{SUFFIX_INDICATOR}.+"))
        return {**self._inputs(windows), "window_text": window_text, "piece_starts": starts, "piece_ends": ends,
                "word_start": word_start}

    def call(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        return {name: value for name, value in self.encode_texts(tf.reshape(texts, [-1])).items()
                if name in INPUT_KEYS}

