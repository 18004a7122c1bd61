"""BERT/ELECTRA WordPiece tokenization in the TensorFlow graph, on tensorflow-text.

`WordPieceTokenizer` turns raw strings into WordPiece ids (with byte offsets into the input), using a
standard `vocab.txt`; `learn_vocabulary` learns such a vocabulary from text and `write_vocabulary` saves it.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import Counter
from typing import Iterable, NamedTuple, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

from electra_tf.data.pipeline import prefetched

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# The head of the released BERT/ELECTRA vocabularies: [PAD]=0, [unused0]..[unused98]=1..99, [UNK]=100,
# [CLS]=101, [SEP]=102, [MASK]=103. Keeping these ids lets our vocabularies stand in for the released ones.
RESERVED_TOKENS = (PAD_TOKEN, *(f"[unused{i}]" for i in range(99)), UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# BERT maps a word of more than 100 characters to [UNK] (tensorflow-text's limit, in bytes, is set above it).
MAX_CHARS_PER_WORD = 100
SUFFIX_INDICATOR = "##"

# BERT's `_is_whitespace` (tab, line ends, space separators Zs) and the line and paragraph separators, which its
# `str.split()` splits words on too: what becomes a space. Zs is spelt out without the space itself (matching
# every space made this step 7x slower).
WHITESPACE = r"\t\n\r\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}\x{2028}\x{2029}"
# BERT's `_is_control` (Cc, Cf) with U+FFFD: what `_clean_text` deletes (after the whitespace became spaces).
DELETED = r"\p{Cc}\p{Cf}\x{FFFD}"
# BERT's `_is_punctuation`: the ASCII symbols and every Unicode punctuation (P*) character.
PUNCTUATION = r"!-/:-@\[-`{-~\p{P}"
# BERT's `_is_chinese_char`: the CJK Unified Ideographs blocks (not kana or Hangul), one token per character.
CJK_IDEOGRAPH_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
CJK_IDEOGRAPHS = "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in CJK_IDEOGRAPH_RANGES)  # RE2 class


def is_cjk_ideograph(char: str) -> bool:
    """Whether `char` is in one of the CJK ideograph blocks BERT tokenizes one character at a time."""
    return any(low <= ord(char) <= high for low, high in CJK_IDEOGRAPH_RANGES)


class _Alignment(NamedTuple):
    """Where the bytes of normalised text come from in the input, for a batch of rows. The normalised rows are
    laid end to end; each input character that normalisation keeps owns the bytes up to `normalized_ends`."""

    normalized_ends: tf.Tensor  # int64 [kept characters]: where each one's normalised bytes end (increasing)
    input_starts: tf.Tensor  # int64 [kept characters]: its byte span in its input row
    input_ends: tf.Tensor
    row_offsets: tf.Tensor  # int64 [rows]: where each row's normalised text starts

    def input_spans(self, rows: tf.Tensor, first_bytes: tf.Tensor, last_bytes: tf.Tensor
                    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The input span from the character of normalised byte `first_bytes` (in row `rows`) to that of
        `last_bytes`, inclusive: a binary search instead of a map from every byte."""
        offsets = tf.gather(self.row_offsets, rows)
        character = lambda positions: tf.searchsorted(self.normalized_ends, offsets + positions, side="right")
        return (tf.gather(self.input_starts, character(first_bytes)),
                tf.gather(self.input_ends, character(last_bytes)))


class _BertNormalizer:
    """BERT's basic tokenization (google-research/bert `tokenization.py`, `BasicTokenizer`) as TensorFlow ops,
    with a map from every normalised byte back to the input.

    As the reference: control and format characters (Cc, Cf) are deleted and whitespace becomes a space; with
    `lowercase` the text is lower-cased (`str.lower`, final sigma included); with `strip_accents` it is
    decomposed (NFD) and its combining marks (Mn) dropped; punctuation and CJK ideographs get a space on each
    side. Nothing else changes: full-width punctuation ("，"), ligatures ("ﬁ"), "ß" and "…" stay as they are,
    so the ids match a BERT vocabulary's. Splitting the result on spaces gives BERT's words.

    Args:
        lowercase: bool. Lower-case the text, as for an uncased vocabulary.
        strip_accents: bool. Decompose (NFD) and drop the combining marks, so "é" becomes "e".
    """

    def __init__(self, lowercase: bool, strip_accents: bool):
        self.lowercase = lowercase
        self.strip_accents = strip_accents

    def normalize(self, strings: tf.Tensor) -> tf.Tensor:
        """Normalises a rank-1 string tensor, whole strings at a time (about 20x faster than per character)."""
        strings = tf.strings.regex_replace(strings, f"[{WHITESPACE}]", " ")
        strings = tf.strings.regex_replace(strings, f"[{DELETED}]", "")
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        if self.strip_accents:
            strings = tf.strings.regex_replace(tf_text.normalize_utf8(strings, "NFD"), r"\p{Mn}", "")
        return tf.strings.regex_replace(strings, f"([{PUNCTUATION}{CJK_IDEOGRAPHS}])", r" \1 ")

    def normalize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.Tensor, "_Alignment"]:
        """Normalises a rank-1 string tensor; also returns where each normalised byte comes from in the input
        (`_Alignment`). A character's span runs up to the next character that is not deleted, so a combining
        accent stripped from "e\u0301" stays inside the span of "e".

        The alignment comes from normalising each character on its own, the text from `normalize`: they
        differ only where lower-casing looks at the neighbours (a word-final "Σ" is "ς", alone "σ"), which
        keeps the length in bytes, so the alignment holds for the text (checked).
        """
        normalized = self.normalize(strings)
        byte_lengths, char_starts = self._normalized_lengths(strings)
        # Flat per-character arrays and row splits: ragged reductions and row ids cost more than all the rest.
        flat_lengths, splits = tf.cast(byte_lengths.flat_values, tf.int64), byte_lengths.row_splits
        row_lengths = _sums_between(flat_lengths, splits)
        kept = flat_lengths > 0
        kept_starts = tf.boolean_mask(char_starts.flat_values, kept)
        kept_splits = tf.gather(tf.concat([[0], tf.cumsum(tf.cast(kept, tf.int64))], axis=0), splits)
        # Each kept character ends where the next one starts; the last of a row where its input ends.
        has_kept = kept_splits[1:] > kept_splits[:-1]
        kept_ends = tf.tensor_scatter_nd_update(
            tf.concat([kept_starts[1:], [0]], axis=0), tf.boolean_mask(kept_splits[1:] - 1, has_kept)[:, tf.newaxis],
            tf.boolean_mask(tf.cast(tf.strings.length(strings), tf.int64), has_kept))
        alignment = _Alignment(normalized_ends=tf.cumsum(tf.boolean_mask(flat_lengths, kept)),
                               input_starts=kept_starts, input_ends=kept_ends,
                               row_offsets=tf.cumsum(row_lengths, exclusive=True))
        with tf.control_dependencies([tf.debugging.assert_equal(
                tf.cast(tf.strings.length(normalized), tf.int64), row_lengths,
                message="Per-character normalisation changed a length: offsets would be wrong.")]):
            return tf.identity(normalized), alignment

    def _normalized_lengths(self, strings: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """Per input character: how many bytes `normalize` makes of it on its own, and where it starts."""
        code_points, char_starts = tf.strings.unicode_decode_with_offsets(strings, "UTF-8")
        flat = code_points.flat_values
        # ASCII from a table (most text is ASCII; running `normalize` on every character made offsets 6x slower),
        # every other character through `normalize` itself.
        ascii_lengths = tf.gather(self._ascii_lengths, tf.minimum(flat, 127))
        other = tf.where(flat > 127)[:, 0]
        other_chars = tf.strings.unicode_encode(tf.gather(flat, other)[:, tf.newaxis], "UTF-8")
        lengths = tf.tensor_scatter_nd_update(ascii_lengths, other[:, tf.newaxis],
                                              tf.strings.length(self.normalize(other_chars)))
        return code_points.with_flat_values(lengths), char_starts

    @property
    def _ascii_lengths(self) -> tf.Tensor:
        """The byte length `normalize` gives each ASCII character on its own (0 deleted, 1, 3 spaced)."""
        if not hasattr(self, "_ascii_length_table"):
            with tf.init_scope():  # computed once, eagerly, even when first asked for inside a traced function
                ascii_chars = tf.constant([chr(code) for code in range(128)])
                self._ascii_length_table = tf.strings.length(self.normalize(ascii_chars)).numpy()
        return tf.constant(self._ascii_length_table)


@keras.saving.register_keras_serializable(package="electra_tf")
class WordPieceTokenizer(keras.layers.Layer):
    """BERT/ELECTRA WordPiece tokenizer that runs in the TensorFlow graph.

    The ids are those of BERT's reference tokenizer (google-research/bert `tokenization.FullTokenizer`, which
    Hugging Face's `BertTokenizer` follows) for either casing: its basic tokenization (control characters
    deleted, whitespace normalised, optional lower-casing and accent stripping, a split on whitespace and
    punctuation, one token per CJK ideograph; `_BertNormalizer`), then greedy longest-match-first WordPiece
    with "##" continuation pieces; a word that cannot be split into vocabulary pieces, or is longer than 100
    characters, becomes `[UNK]`. All of it is TensorFlow ops (tensorflow-text's `FastWordpieceTokenizer`,
    `WhitespaceTokenizer` and `normalize_utf8`), so the layer works inside `tf.data.Dataset.map`,
    `tf.function` and a SavedModel.

    It is a `keras.layers.Layer` rather than a plain class so that it has a `get_config` (the vocabulary is
    stored in the config, so a saved model needs no separate file), can sit in a Keras preprocessing model, and
    has its lookup table and tensorflow-text models tracked when the layer is exported; calling the layer
    is `tokenize`.

    Args:
        vocabulary: str, path or sequence of str. A `vocab.txt` (one token per line, UTF-8, the format of the
            released BERT and ELECTRA vocabularies) or the tokens themselves; the line number is the id. It must
            contain `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]`, and no token twice.
        lowercase: bool. Lower-case the input, as for an uncased vocabulary. Defaults to `True`.
        strip_accents: bool or None. Drop accents ("Café" becomes "Cafe"). `None` follows `lowercase`, as
            BERT does. Defaults to `None`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import tempfile, pathlib
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "open", "##s", ","]
    path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    path.write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer(path)
    ids = tokenizer.tokenize(["The Café opens, ok"])
    assert ids.to_list() == [[5, 6, 7, 8, 9, 1]]
    assert tokenizer.detokenize(ids).numpy()[0] == b"the cafe opens , [UNK]"
    ```
    """

    def __init__(
        self,
        vocabulary: str | os.PathLike | Sequence[str],
        lowercase: bool = True,
        strip_accents: bool | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # As keras-hub's preprocessing layers: let Python strings through `__call__` unconverted.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if isinstance(vocabulary, (str, os.PathLike)):
            tokens = _read_vocabulary_file(vocabulary)
        else:
            tokens = list(vocabulary)
            _check_vocabulary(tokens, "The vocabulary")
        self._vocabulary = tokens
        self._token_ids = {token: i for i, token in enumerate(tokens)}
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents

        self._normalizer = _BertNormalizer(self.lowercase, self.strip_accents)
        self._words = tf_text.WhitespaceTokenizer()
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokens, suffix_indicator=SUFFIX_INDICATOR, max_bytes_per_word=4 * MAX_CHARS_PER_WORD,
            token_out_type=tf.int32, unknown_token=UNK_TOKEN, no_pretokenization=True,
            support_detokenization=True)
        self._id_to_token_table = tf.constant(tokens)
        self._continuation_table = tf.constant([token.startswith(SUFFIX_INDICATOR) for token in tokens])
        self._ideograph_table = tf.constant([len(token) == 1 and is_cjk_ideograph(token) for token in tokens])
        self._token_to_id_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(tokens), tf.range(len(tokens), dtype=tf.int64)),
            default_value=self._token_ids[UNK_TOKEN])
        self.built = True

    @property
    def vocabulary(self) -> list[str]:
        """The tokens, in id order."""
        return list(self._vocabulary)

    @property
    def vocab_size(self) -> int:
        return len(self._vocabulary)

    @property
    def pad_token_id(self) -> int:
        return self._token_ids[PAD_TOKEN]

    @property
    def unk_token_id(self) -> int:
        return self._token_ids[UNK_TOKEN]

    @property
    def cls_token_id(self) -> int:
        return self._token_ids[CLS_TOKEN]

    @property
    def sep_token_id(self) -> int:
        return self._token_ids[SEP_TOKEN]

    @property
    def mask_token_id(self) -> int:
        return self._token_ids[MASK_TOKEN]

    def call(self, inputs):
        return self.tokenize(inputs)

    def tokenize(self, strings) -> tf.RaggedTensor | tf.Tensor:
        """Tokenizes strings into WordPiece ids.

        Args:
            strings: str, sequence of str, or a rank-0/rank-1 `tf.string` tensor.

        Returns:
            int32 ids: a `tf.RaggedTensor` [batch, (tokens)] for a batch of strings, a 1-D `tf.Tensor` for a
            single string.
        """
        strings, single = _as_string_batch(strings)
        words = self._words.tokenize(self._normalizer.normalize(strings))
        ids = self._wordpiece.tokenize(_unknown_if_too_long(words)).merge_dims(1, 2)
        return ids[0] if single else ids

    def tokenize_with_offsets(self, strings) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Tokenizes strings into WordPiece ids with each token's byte span in the input.

        Token `j` of string `i` covers bytes `starts[i, j]:ends[i, j]` of the original (not normalised)
        `strings[i]`, e.g. "Café" for the token "cafe"; an `[UNK]` covers its whole word. When one input
        character becomes several normalised ones that end up in different pieces, both pieces get the span of
        that character.

        Args:
            strings: str, sequence of str, or a rank-0/rank-1 `tf.string` tensor.

        Returns:
            `(ids, starts, ends)`: int32 ids and int64 byte offsets, each a `tf.RaggedTensor`
            [batch, (tokens)] for a batch of strings, a 1-D `tf.Tensor` for a single string.
        """
        strings, single = _as_string_batch(strings)
        normalized, alignment = self._normalizer.normalize_with_offsets(strings)
        words, word_starts, word_ends = self._words.tokenize_with_offsets(normalized)
        ids, piece_starts, piece_ends = self._wordpiece.tokenize_with_offsets(_unknown_if_too_long(words))
        # Offsets in the word -> in the normalised text (an [UNK] spans its word) -> in the input.
        word_of_piece = piece_starts.values.value_rowids()
        word_start, word_end, piece_start, piece_end = (
            tf.cast(values, tf.int64) for values in (tf.gather(word_starts.flat_values, word_of_piece),
                                                     tf.gather(word_ends.flat_values, word_of_piece),
                                                     piece_starts.flat_values, piece_ends.flat_values))
        unknown = tf.gather(_too_long(words).flat_values, word_of_piece)
        starts = piece_starts.with_flat_values(word_start + piece_start).merge_dims(1, 2)
        ends = piece_ends.with_flat_values(tf.where(unknown, word_end, word_start + piece_end)).merge_dims(1, 2)
        ids = ids.merge_dims(1, 2)
        # A token starts where the input character of its first byte starts, ends where that of its last ends.
        input_starts, input_ends = alignment.input_spans(starts.value_rowids(), starts.flat_values,
                                                         ends.flat_values - 1)
        starts, ends = starts.with_flat_values(input_starts), ends.with_flat_values(input_ends)
        if single:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

    def tokenize_with_word_starts(self, strings, *, segmented_cjk: bool = False
                                  ) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """Tokenizes strings into WordPiece ids and marks the tokens that begin a word (whole-word masking).

        A token continues the word before it when it is a "##" piece. With `segmented_cjk`, a CJK ideograph
        also continues the word when the token before is an ideograph too and nothing separates them in the
        input: text whose words are separated by spaces ("我 喜欢 北京", as a Chinese segmenter writes it) has
        words of several characters; without it every ideograph is a word, as BERT tokenizes them.

        Args:
            strings: str, sequence of str, or a rank-1 `tf.string` tensor.
            segmented_cjk: bool. Group adjacent CJK ideographs into words. Defaults to `False`.

        Returns:
            `(ids, word_starts)`: int32 ids and bool flags, each a `tf.RaggedTensor` [batch, (tokens)].
        """
        strings = _as_string_batch(strings)[0]
        if not segmented_cjk:
            ids = self.tokenize(strings)
            return ids, ids.with_flat_values(~tf.gather(self._continuation_table, ids.flat_values))
        ids, starts, ends = self.tokenize_with_offsets(strings)
        # An ideograph right after another, nothing between them in the input, continues its word.
        ideograph = tf.gather(self._ideograph_table, ids.flat_values)
        first_in_row = tf.ragged.range(ids.row_lengths()).flat_values == 0
        previous = lambda values: tf.concat([values[:1], values[:-1]], axis=0)
        adjacent = ~first_in_row & (starts.flat_values == previous(ends.flat_values))
        continues = (tf.gather(self._continuation_table, ids.flat_values)
                     | ideograph & previous(ideograph) & adjacent)
        return ids, ids.with_flat_values(~continues)

    def detokenize(self, ids) -> tf.Tensor:
        """Joins WordPiece ids back into text: pieces merged into words, words separated by one space.

        The text is the normalised one (lower-cased, without accents, punctuation split off), so it does not
        in general equal the input of `tokenize`.

        Args:
            ids: int ids, a `tf.RaggedTensor` [batch, (tokens)], a 1-D sequence/tensor (one string), or a dense
                2-D tensor, which is taken as padded: its trailing `[PAD]` ids are dropped.

        Returns:
            A `tf.string` tensor: [batch] for a batch, a scalar for one sequence.
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
            if ids.shape.rank == 2:
                ids = tf.RaggedTensor.from_tensor(ids, padding=tf.cast(self.pad_token_id, ids.dtype))
        return self._wordpiece.detokenize(ids)

    def id_to_token(self, ids):
        """Maps ids to tokens.

        Args:
            ids: int, or an int `tf.Tensor`/`tf.RaggedTensor` (looked up in the graph).

        Returns:
            The token (str) for an int, else a `tf.string` tensor of the same shape as `ids`.
        """
        if isinstance(ids, (int, np.integer)):
            if not 0 <= ids < self.vocab_size:
                raise ValueError(f"Id {ids} is outside the vocabulary [0, {self.vocab_size}).")
            return self._vocabulary[ids]
        return tf.gather(self._id_to_token_table, ids)

    def token_to_id(self, tokens):
        """Maps tokens to ids; a token that is not in the vocabulary maps to `unk_token_id`.

        Args:
            tokens: str, or a `tf.string` `tf.Tensor`/`tf.RaggedTensor` (looked up in the graph).

        Returns:
            The id (int) for a str, else an int32 tensor of the same shape as `tokens`.
        """
        if isinstance(tokens, str):
            return self._token_ids.get(tokens, self.unk_token_id)
        return tf.cast(self._token_to_id_table.lookup(tokens), tf.int32)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
        })
        return config


def learn_vocabulary(
    text_lines: Iterable[str] | tf.data.Dataset,
    vocab_size: int,
    *,
    lowercase: bool = True,
    strip_accents: bool | None = None,
    num_iterations: int = 4,
    lower_thresh: int = 2,
    upper_thresh: int = 1000,
    batch_size: int = 1024,
) -> list[str]:
    """Learns a WordPiece vocabulary with the standard BERT special-token ids.

    Words are counted after the same normalisation and splitting as `WordPieceTokenizer` with these
    `lowercase`/`strip_accents`, then tensorflow-text's learner
    (`tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset`) picks the pieces: it binary-searches a
    minimum piece count between `lower_thresh` and `upper_thresh`, running `num_iterations` passes over the
    distinct words per try. The result starts with `[PAD]`=0, `[unused0]`..`[unused98]`=1..99, `[UNK]`=100,
    `[CLS]`=101, `[SEP]`=102, `[MASK]`=103, as the released BERT/ELECTRA vocabularies; then every character
    of the text, then the learned pieces (among them each character as a "##" piece), most frequent first.

    The learner is pure Python and its cost grows with the number of distinct words: on 1.7 MB of English
    (15k distinct words) it takes 10-17 s on 2 CPU cores with the defaults, mostly the search; the
    defaults (`lower_thresh=2` instead of the library's 10, `upper_thresh=1000` instead of 1e7) are what
    let it reach 8000 tokens on such a small corpus, and in few steps.

    Args:
        text_lines: iterable of str or `tf.data.Dataset`. The text, one sentence or paragraph per element. A
            dataset may yield scalar strings or batches of them; a Python iterable is read into memory.
        vocab_size: int. The most tokens to return, the reserved ones included. If the search stops above
            it, the least frequent learned pieces are dropped (never a single character).
        lowercase: bool. As `WordPieceTokenizer`. Defaults to `True`.
        strip_accents: bool or None. As `WordPieceTokenizer`; `None` follows `lowercase`. Defaults to `None`.
        num_iterations: int. Learner passes per threshold tried. Defaults to `4`.
        lower_thresh: int. Lowest piece count the search tries. Defaults to `2`.
        upper_thresh: int. Highest piece count the search tries; a corpus that needs more (hundreds of MB)
            returns a vocabulary cut to `vocab_size` instead. Defaults to `1000`.
        batch_size: int. Lines per batch while counting words. Defaults to `1024`.

    Returns:
        The tokens in id order, ready for `write_vocabulary` or `WordPieceTokenizer`.

    Example:
    ```python
    lines = ["The cat sat on the mat.", "The dog sat on the log."] * 20
    vocab = learn_vocabulary(lines, vocab_size=150)
    assert vocab[0] == "[PAD]" and vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "the" in vocab and "sat" in vocab
    ```
    """
    if vocab_size <= len(RESERVED_TOKENS):
        raise ValueError(
            f"vocab_size must be more than the {len(RESERVED_TOKENS)} reserved tokens, got {vocab_size}.")
    if isinstance(text_lines, tf.data.Dataset):
        dataset = text_lines
        spec = dataset.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string or spec.shape.rank not in (0, 1):
            raise ValueError(f"The dataset must yield strings or batches of strings, not {spec}.")
        if spec.shape.rank == 0:
            dataset = dataset.batch(batch_size)
    else:
        lines = list(text_lines)
        if not lines:
            raise ValueError("No text to learn a vocabulary from: text_lines is empty.")
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(lines, tf.string)).batch(batch_size)

    normalizer = _BertNormalizer(lowercase, lowercase if strip_accents is None else strip_accents)
    # The text is normalised here exactly as the tokenizer will; the learner then only splits it into words.
    vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
        prefetched(dataset.map(normalizer.normalize, num_parallel_calls=tf.data.AUTOTUNE)),
        vocab_size=vocab_size,
        reserved_tokens=list(RESERVED_TOKENS),
        bert_tokenizer_params={"lower_case": False},
        learn_params={"num_iterations": num_iterations, "lower_thresh": lower_thresh, "upper_thresh": upper_thresh})
    if len(vocabulary) > vocab_size:
        # Pieces come last, most frequent first; single characters must stay so that every word can be spelt.
        excess = len(vocabulary) - vocab_size
        dropped = set()
        for token in reversed(vocabulary):
            if len(dropped) == excess:
                break
            if len(token.removeprefix(SUFFIX_INDICATOR)) > 1 and token not in RESERVED_TOKENS:
                dropped.add(token)
        vocabulary = [token for token in vocabulary if token not in dropped]
    return vocabulary


def write_vocabulary(tokens: Sequence[str], path: str | os.PathLike) -> None:
    """Writes tokens as a `vocab.txt`: one token per line, UTF-8, "\\n" line ends.

    Args:
        tokens: sequence of str. The vocabulary in id order; it must hold the special tokens and no
            duplicates, as `WordPieceTokenizer` requires.
        path: str or path. The file to write; missing parent folders are created.
    """
    tokens = list(tokens)
    _check_vocabulary(tokens, "The vocabulary")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")


def _read_vocabulary_file(path: str | os.PathLike) -> list[str]:
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Vocabulary file {str(path)!r} does not exist (or is not a file).")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"Vocabulary file {str(path)!r} is empty: expected one token per line.")
    # Only "\n" ends a line (str.splitlines would also split on e.g. U+2028, which can be part of a token);
    # "\r" and surrounding whitespace are dropped, as BERT's own loader does.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    tokens = [line.strip() for line in lines]
    _check_vocabulary(tokens, f"Vocabulary file {str(path)!r}")
    return tokens


def _check_vocabulary(tokens: list[str], what: str) -> None:
    if not tokens:
        raise ValueError(f"{what} is empty: expected one token per line.")
    empty = [i for i, token in enumerate(tokens) if not token.strip()]
    if empty:
        raise ValueError(f"{what} has empty tokens at ids {empty[:10]}.")
    if any("\n" in token for token in tokens):
        raise ValueError(f"{what} has tokens containing a line break.")
    duplicates = [token for token, count in Counter(tokens).items() if count > 1]
    if duplicates:
        raise ValueError(f"{what} has duplicated tokens: {duplicates[:10]}.")
    missing = [token for token in SPECIAL_TOKENS if token not in tokens]
    if missing:
        raise ValueError(f"{what} lacks the special tokens {missing}; a BERT/ELECTRA vocabulary needs all of "
                         f"{list(SPECIAL_TOKENS)}.")


def character_offsets(texts: tf.Tensor, byte_offsets: tf.Tensor) -> tf.Tensor:
    """UTF-8 byte offsets into `texts` [N] -> character offsets (the number of characters before each) [N]."""
    _, character_starts = tf.strings.unicode_split_with_offsets(texts, "UTF-8")
    before = tf.cast(character_starts, tf.int64) < tf.cast(byte_offsets, tf.int64)[:, None]
    return tf.cast(tf.reduce_sum(tf.cast(before, tf.int32), axis=1), tf.int32)


def _too_long(words: tf.RaggedTensor) -> tf.RaggedTensor:
    return words.with_flat_values(tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD)


def _unknown_if_too_long(words: tf.RaggedTensor) -> tf.RaggedTensor:
    """Words longer than BERT's limit replaced by "[UNK]", which WordPiece reads as the one token [UNK]."""
    return words.with_flat_values(tf.where(_too_long(words).flat_values, UNK_TOKEN, words.flat_values))


def _sums_between(values: tf.Tensor, splits: tf.Tensor) -> tf.Tensor:
    """The sum of `values[splits[i]:splits[i + 1]]` for each i (a ragged row sum, several times faster)."""
    totals = tf.concat([[0], tf.cumsum(values)], axis=0)
    return tf.gather(totals, splits[1:]) - tf.gather(totals, splits[:-1])


def _as_string_batch(strings) -> tuple[tf.Tensor, bool]:
    """A rank-1 string tensor, and whether the input was a single string."""
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    if strings.shape.rank == 0:
        return strings[tf.newaxis], True
    if strings.shape.rank != 1:
        raise ValueError(f"Expected a string or a rank-1 batch of strings, got shape {strings.shape}.")
    return strings, False


# --- A tokenizer in a model directory: the file names and keys Hugging Face uses too ---
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


def save_tokenizer(tokenizer: WordPieceTokenizer, directory: str | os.PathLike) -> None:
    """Writes `vocab.txt` and `tokenizer_config.json` to `directory`."""
    directory = pathlib.Path(directory)
    write_vocabulary(tokenizer.vocabulary, directory / VOCAB_FILE)
    (directory / TOKENIZER_CONFIG_FILE).write_text(json.dumps(
        {"do_lower_case": tokenizer.lowercase, "strip_accents": tokenizer.strip_accents,
         "tokenizer_class": "ElectraTokenizer"}, indent=2) + "\n")


def load_tokenizer(directory: str | os.PathLike) -> WordPieceTokenizer:
    """The tokenizer saved in a model directory (ours or Hugging Face's: same file names)."""
    directory = pathlib.Path(directory)
    if not (directory / VOCAB_FILE).is_file():
        raise FileNotFoundError(f"{directory} has no {VOCAB_FILE}.")
    options = {}
    if (directory / TOKENIZER_CONFIG_FILE).is_file():
        options = json.loads((directory / TOKENIZER_CONFIG_FILE).read_text())
    return WordPieceTokenizer(directory / VOCAB_FILE, lowercase=options.get("do_lower_case", True),
                              strip_accents=options.get("strip_accents"))


def special_token_ids(tokenizer: WordPieceTokenizer) -> dict[str, int]:
    """The `ElectraConfig` special-token fields as the vocabulary has them."""
    return {"pad_token_id": tokenizer.pad_token_id, "cls_token_id": tokenizer.cls_token_id,
            "sep_token_id": tokenizer.sep_token_id, "mask_token_id": tokenizer.mask_token_id}
