"""BERT/ELECTRA WordPiece tokenization in the TensorFlow graph, on tensorflow-text.

`WordPieceTokenizer` turns raw strings into WordPiece ids (with byte offsets into the input), using a
standard `vocab.txt`; `learn_vocabulary` learns such a vocabulary from text and `write_vocabulary` saves it.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import Counter
from typing import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# The head of the released BERT/ELECTRA vocabularies: [PAD]=0, [unused0]..[unused98]=1..99, [UNK]=100,
# [CLS]=101, [SEP]=102, [MASK]=103. Keeping these ids lets our vocabularies stand in for the released ones.
RESERVED_TOKENS = (PAD_TOKEN, *(f"[unused{i}]" for i in range(99)), UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# BERT maps a longer word to [UNK]; tensorflow-text counts this limit in UTF-8 bytes (BERT: characters).
MAX_BYTES_PER_WORD = 100
SUFFIX_INDICATOR = "##"


class _BertNormalizer:
    """BERT's text normalisation with a map from every normalised byte back to the input.

    Lower-casing together with accent stripping (uncased BERT) and neither (cased BERT) are what
    `tf_text.FastBertNormalizer` implements, in one fused C++ op; the two mixed settings are built here from
    per-character ops, about 15x slower (2 MB/s of English text per CPU core instead of 30 MB/s).

    Args:
        lowercase: bool. Case-fold the text (Unicode NFKC_Casefold, so "ß" becomes "ss" and "ﬁ" "fi").
        strip_accents: bool. Decompose (NFD) and drop the combining marks, so "é" becomes "e".
    """

    def __init__(self, lowercase: bool, strip_accents: bool):
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self._fast = None
        if lowercase == strip_accents:
            self._fast = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=lowercase)

    def normalize(self, strings: tf.Tensor) -> tf.Tensor:
        """Normalises a rank-1 string tensor."""
        if self._fast is not None:
            return self._fast.normalize(strings)
        return self._normalize_per_character(strings)[0]

    def normalize_with_offsets(self, strings: tf.Tensor) -> tuple[tf.Tensor, tf.RaggedTensor]:
        """Normalises a rank-1 string tensor; also returns, per string, the input byte offset of every normalised
        byte plus one final entry (the input length), as `tf_text.FastBertNormalizer.normalize_with_offsets`."""
        if self._fast is not None:
            return self._fast.normalize_with_offsets(strings)
        return self._normalize_per_character(strings)

    def _normalize_per_character(self, strings: tf.Tensor) -> tuple[tf.Tensor, tf.RaggedTensor]:
        # Normalising each character on its own keeps track of which input character every output byte comes
        # from. Case folding (`case_fold_utf8` is Unicode NFKC_Casefold) and NFD act per character, except
        # NFKC's composition ("e" + U+0301 -> "é"): that is done on whole strings first, with its own offset map.
        if self.lowercase:
            strings_nfkc, nfkc_offsets = tf_text.normalize_utf8_with_offsets_map(strings, "NFKC")
        else:
            strings_nfkc = strings
        chars, char_starts = tf.strings.unicode_split_with_offsets(strings_nfkc, "UTF-8")
        flat = chars.flat_values
        if self.lowercase:
            flat = tf_text.case_fold_utf8(flat)
        if self.strip_accents:
            flat = tf.strings.regex_replace(tf_text.normalize_utf8(flat, "NFD"), r"\p{Mn}", "")
        # Control characters as `FastBertNormalizer(lower_case_nfd_strip_accents=True)` treats them.
        flat = tf.strings.regex_replace(flat, r"\p{Cf}", "")
        flat = tf.strings.regex_replace(flat, r"\p{Cc}", " ")
        normalized_chars = chars.with_flat_values(flat)
        byte_lengths = tf.strings.length(normalized_chars)
        source = tf.RaggedTensor.from_row_lengths(
            tf.repeat(char_starts.flat_values, byte_lengths.flat_values),
            tf.cast(tf.reduce_sum(byte_lengths, axis=1), tf.int64))
        nfkc_lengths = tf.cast(tf.strings.length(strings_nfkc), tf.int64)
        source = tf.concat([source, nfkc_lengths[:, tf.newaxis]], axis=1)
        if self.lowercase:
            source = tf_text.find_source_offsets(nfkc_offsets, source)
        return tf.strings.reduce_join(normalized_chars, axis=1), source


@keras.saving.register_keras_serializable(package="electra_tf")
class WordPieceTokenizer(keras.layers.Layer):
    """BERT/ELECTRA WordPiece tokenizer that runs in the TensorFlow graph.

    Applies BERT's basic tokenization (control characters turned into spaces, optional lower-casing and
    accent stripping, a split on whitespace and punctuation, one token per CJK character), then greedy
    longest-match-first WordPiece with "##" continuation pieces. A word that cannot be split into vocabulary
    pieces, or is longer than 100 UTF-8 bytes, becomes `[UNK]`. All of it is TensorFlow ops
    (`tf_text.FastWordpieceTokenizer`, `tf_text.FastBertNormalizer`), so the layer works inside
    `tf.data.Dataset.map`, `tf.function` and a SavedModel. With `strip_accents` following `lowercase`, the ids
    are those of `tf_text.BertTokenizer(vocab, lower_case=lowercase)`.

    Lower-casing is tensorflow-text's, Unicode NFKC_Casefold: beyond case it maps compatibility characters
    ("ﬁ" to "fi", "½" to "1⁄2", full-width to ASCII letters) and deletes invisible format characters (soft
    hyphen, zero-width space), which without lower-casing become spaces. Google's Python BERT tokenizer only
    lower-cases, so a few rare characters tokenize differently from it.

    It is a `keras.layers.Layer` rather than a plain class so that it has a `get_config` (the vocabulary is
    stored in the config, so a saved model needs no separate file), can sit in a Keras preprocessing model, and
    has its lookup table and tensorflow-text models tracked when the layer is exported; calling the layer
    is `tokenize`.

    Args:
        vocabulary: str, path or sequence of str. A `vocab.txt` (one token per line, UTF-8, the format of the
            released BERT and ELECTRA vocabularies) or the tokens themselves; the line number is the id. It must
            contain `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]`, and no token twice.
        lowercase: bool. Case-fold the input, as for an uncased vocabulary. Defaults to `True`.
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
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokens, suffix_indicator=SUFFIX_INDICATOR, max_bytes_per_word=MAX_BYTES_PER_WORD,
            token_out_type=tf.int32, unknown_token=UNK_TOKEN, no_pretokenization=False,
            support_detokenization=True)
        self._id_to_token_table = tf.constant(tokens)
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
        ids = self._wordpiece.tokenize(self._normalizer.normalize(strings))
        return ids[0] if single else ids

    def tokenize_with_offsets(self, strings) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """Tokenizes strings into WordPiece ids with each token's byte span in the input.

        Token `j` of string `i` covers bytes `starts[i, j]:ends[i, j]` of the original (not normalised)
        `strings[i]`, e.g. "Café" for the token "cafe". When one input character becomes several normalised
        ones that end up in different pieces (a ligature "ﬁ" split after "f"), both pieces get the span of that
        character.

        Args:
            strings: str, sequence of str, or a rank-0/rank-1 `tf.string` tensor.

        Returns:
            `(ids, starts, ends)`: int32 ids and int64 byte offsets, each a `tf.RaggedTensor`
            [batch, (tokens)] for a batch of strings, a 1-D `tf.Tensor` for a single string.
        """
        strings, single = _as_string_batch(strings)
        normalized, source_offsets = self._normalizer.normalize_with_offsets(strings)
        ids, starts, ends = self._wordpiece.tokenize_with_offsets(normalized)
        # Offsets into the normalised text -> offsets into the input, as `tf_text.FastBertTokenizer` does.
        starts = _gather_in_rows(source_offsets, starts)
        ends = _gather_in_rows(source_offsets, ends)
        if single:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

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
        dataset.map(normalizer.normalize, num_parallel_calls=tf.data.AUTOTUNE),
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


def _gather_in_rows(params: tf.RaggedTensor, indices: tf.RaggedTensor) -> tf.RaggedTensor:
    """`tf.gather(params, indices, batch_dims=1)` for two ragged [batch, (n)] tensors, as one flat gather
    (the ragged `tf.gather` made `tokenize_with_offsets` about 3x slower)."""
    row_starts = tf.gather(params.row_splits, indices.value_rowids())
    flat_indices = tf.cast(indices.flat_values, row_starts.dtype) + row_starts
    return indices.with_flat_values(tf.gather(params.flat_values, flat_indices))


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
