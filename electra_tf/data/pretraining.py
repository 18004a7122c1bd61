"""Pre-training examples from a corpus, built as the original `build_pretraining_dataset.py` does.

Sources: text files in the original format (one sentence or paragraph per line, a blank line between
documents), a TFDS text dataset (each example one document, its lines the sentences), or TFRecord shards that
`write_tfrecords` (the `electra-tf build-data` step) made once so long runs do not re-tokenize. TFRecords use the
original's feature names (`input_ids`, `input_mask`, `segment_ids`), so shards from the original code load too.

Sentences of one document are packed until the target length is reached, then split at a sentence boundary
into segment A and segment B: `[CLS] A [SEP] B [SEP]`. Examples never cross a document boundary, 10% are a
single segment, and 5% get a random shorter target length. There is no next-sentence label.

Example:
```python
from electra_tf.data.pretraining import ExampleBuilder
builder = ExampleBuilder(max_length=8, cls_token_id=101, sep_token_id=102, seed=0)
examples = [e for ids in ([5, 6], [7, 8, 9], [], [10, 11]) for e in builder.add_sentence(ids)]
examples += builder.flush()
assert all(e.token_ids[0] == 101 and e.token_ids[-1] == 102 for e in examples)
```
"""

from __future__ import annotations

import dataclasses
import glob
import os
import random
import zlib
from typing import Iterable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from electra_tf.data.pipeline import prefetched
from electra_tf.inputs import INPUT_KEYS, WORD_START
from electra_tf.text.tokenizer import WordPieceTokenizer, is_cjk_ideograph

Document = list[str]  # the lines (sentences) of one document


@dataclasses.dataclass(frozen=True)
class PretrainingExample:
    """One unpadded example: `[CLS] A [SEP] (B [SEP])` ids, their segment ids and, for whole-word masking,
    1 where a word begins (the [CLS] and [SEP]s count as words)."""

    token_ids: list[int]
    segment_ids: list[int]
    word_starts: list[int] | None = None


class ExampleBuilder:
    """Packs tokenized sentences into examples; feed sentences in order, an empty one ends a document.

    Args:
        max_length: int. Length of every example, [CLS] and [SEP]s included.
        cls_token_id: int. Id of [CLS].
        sep_token_id: int. Id of [SEP].
        seed: int. Seed of the segment-split and short-example draws.
    """

    def __init__(self, max_length: int, cls_token_id: int, sep_token_id: int, seed: int = 0):
        if max_length < 5:
            raise ValueError(f"max_length must be at least 5, got {max_length}.")
        self.max_length = max_length
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self._rng = random.Random(seed)
        self._sentences: list[tuple[Sequence[int], Sequence[int] | None]] = []
        self._length = 0
        self._target_length = max_length

    def add_sentence(self, token_ids: Sequence[int], word_starts: Sequence[int] | None = None
                     ) -> list[PretrainingExample]:
        """Adds one sentence (empty: a document boundary), with its word starts for whole-word masking;
        returns the examples it completes (0 or 1)."""
        if not token_ids:
            return self.flush()
        self._sentences.append((token_ids, word_starts))
        self._length += len(token_ids)
        return self.flush() if self._length >= self._target_length else []

    def flush(self) -> list[PretrainingExample]:
        """Turns the pending sentences into an example (at a document end, or at the end of the corpus)."""
        if not self._sentences:
            return []
        example = self._create_example()
        self._sentences, self._length = [], 0
        # A small share of shorter examples, so the model also sees short inputs.
        self._target_length = (self._rng.randint(5, self.max_length) if self._rng.random() < 0.05
                               else self.max_length)
        return [example]

    def _create_example(self) -> PretrainingExample:
        # 10% single-segment examples, as in classification tasks.
        first_target = 100000 if self._rng.random() < 0.1 else (self._target_length - 3) // 2
        first: list[tuple[int, int]] = []  # (token id, word start) pairs
        second: list[tuple[int, int]] = []
        for token_ids, word_starts in self._sentences:
            tokens = list(zip(token_ids, word_starts if word_starts is not None else [1] * len(token_ids)))
            # Into A if A is empty or has room; a sentence that overflows A goes there half the time while B
            # is still empty.
            if (not first or len(first) + len(tokens) < first_target
                    or (not second and len(first) < first_target and self._rng.random() < 0.5)):
                first += tokens
            else:
                second += tokens
        first = first[:self.max_length - 2]
        second = second[:max(0, self.max_length - len(first) - 3)]
        token_ids, segment_ids, word_starts = [self.cls_token_id], [0], [1]
        for segment_id, segment in enumerate([first, second] if second else [first]):
            for position, (token_id, word_start) in enumerate(segment):
                token_ids.append(token_id)
                segment_ids.append(segment_id)
                word_starts.append(word_start if position else 1)  # a segment cut inside a word starts one
            token_ids.append(self.sep_token_id)
            segment_ids.append(segment_id)
            word_starts.append(1)
        with_words = all(starts is not None for _, starts in self._sentences)
        return PretrainingExample(token_ids, segment_ids, word_starts if with_words else None)


# --- Sources: each yields documents ---
def match_files(file_pattern: str | Sequence[str]) -> list[str]:
    """The sorted files matching one glob or several; an error when none match."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = sorted({path for pattern in patterns for path in glob.glob(str(pattern))})
    if not files:
        raise FileNotFoundError(f"No files match {[str(p) for p in patterns]}.")
    return files


def text_file_documents(path: str | os.PathLike) -> Iterator[Document]:
    """The documents of one text file: runs of non-blank lines.

    Bytes that are not UTF-8 become U+FFFD (the tokenizer drops them) instead of stopping a long run.
    """
    document: Document = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                document.append(line)
            elif document:
                yield document
                document = []
    if document:
        yield document


def tfds_documents(name: str, split="train", text_key: str = "text",
                   data_dir: str | None = None) -> Iterator[Document]:
    """The documents of a TFDS text dataset (e.g. `wikipedia/20230601.en`, `c4/en`, `pg19`): one per example,
    its non-blank lines the sentences. `split` is a split name or a `tfds.even_splits` piece. The data must be downloaded or prepared in `data_dir` already."""
    import tensorflow_datasets as tfds

    try:
        dataset = tfds.load(name, split=split, data_dir=data_dir, download=False)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"Unknown TFDS dataset {name!r}: {error}") from None
    except AssertionError as error:  # TFDS asserts when the data was never downloaded or prepared
        raise FileNotFoundError(f"TFDS dataset {name!r} is not prepared in data_dir={data_dir!r}: {error}") from None
    for example in tfds.as_numpy(dataset):
        if text_key not in example:
            raise KeyError(f"TFDS dataset {name!r} has no feature {text_key!r}; it has {sorted(example)}.")
        lines = [line.strip() for line in example[text_key].decode("utf-8", "replace").splitlines()]
        document = [line for line in lines if line]
        if document:
            yield document


CHINESE_SEGMENTATIONS = ("none", "spaces", "jieba")


@dataclasses.dataclass(frozen=True)
class WholeWords:
    """Whole-word masking's data side: examples carry `word_start` (1 where a word begins).

    A word is a WordPiece token and its "##" pieces. CJK ideographs, which BERT tokenizes one by one, form
    words by `chinese`: "none" (each ideograph is a word), "spaces" (the text is segmented, words separated by
    spaces: adjacent ideographs are one word) or "jieba" (segmented here by jieba, `pip install jieba`; only
    the boundaries between ideographs are used, the text and its ids do not change).
    """

    chinese: str = "none"

    def __post_init__(self) -> None:
        if self.chinese not in CHINESE_SEGMENTATIONS:
            raise ValueError(f"chinese must be one of {CHINESE_SEGMENTATIONS}, got {self.chinese!r}.")

    def tokenize(self, tokenizer: WordPieceTokenizer, lines: list[str]) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids and word starts (0/1) of each line."""
        if self.chinese == "jieba":
            lines = [segment_chinese(line) for line in lines]
        ids, starts = tokenizer.tokenize_with_word_starts(tf.constant(lines), segmented_cjk=self.chinese != "none")
        return ids.to_list(), tf.cast(starts, tf.int32).to_list()


def segment_chinese(line: str) -> str:
    """`line` with a space between adjacent CJK ideographs that jieba puts in different words; nothing else
    changes (jieba also splits Latin text, which would change its WordPiece ids)."""
    try:
        import jieba
    except ImportError:
        raise ImportError("Chinese segmentation with jieba needs it installed: pip install jieba") from None
    pieces: list[str] = []
    for word in jieba.cut(line):
        if pieces and is_cjk_ideograph(word[0]) and is_cjk_ideograph(pieces[-1][-1]):
            pieces.append(" ")
        pieces.append(word)
    return "".join(pieces)


def build_examples(documents: Iterable[Document], tokenizer: WordPieceTokenizer, max_length: int, *,
                   seed: int = 0, chunk_size: int = 1024, whole_words: WholeWords | None = None
                   ) -> Iterator[PretrainingExample]:
    """Tokenizes documents (lines in chunks, in the graph) and packs them into examples (with their word starts
    when `whole_words` is given)."""
    builder = ExampleBuilder(max_length, tokenizer.cls_token_id, tokenizer.sep_token_id, seed=seed)
    chunk: list[str] = []  # lines, "" at each document end

    def pack(lines: list[str]) -> Iterator[PretrainingExample]:
        if whole_words is None:
            for ids in tokenizer.tokenize(tf.constant(lines)).to_list():
                yield from builder.add_sentence(ids)
        else:
            for ids, starts in zip(*whole_words.tokenize(tokenizer, lines)):
                yield from builder.add_sentence(ids, starts)

    for document in documents:
        chunk += [*document, ""]
        if len(chunk) >= chunk_size:
            yield from pack(chunk)
            chunk = []
    if chunk:
        yield from pack(chunk)
    yield from builder.flush()


def _padded(examples: Iterable[PretrainingExample], max_length: int) -> Iterator[dict[str, np.ndarray]]:
    for example in examples:
        length = len(example.token_ids)
        features = {"token_ids": example.token_ids, "segment_ids": example.segment_ids}
        if example.word_starts is not None:
            features[WORD_START] = example.word_starts
        padded = {key: np.pad(np.asarray(values, np.int32), (0, max_length - length))
                  for key, values in features.items()}
        yield {**padded, "padding_mask": (np.arange(max_length) < length).astype(np.int32)}


def _example_signature(max_length: int, whole_words: bool = False) -> dict[str, tf.TensorSpec]:
    keys = (*INPUT_KEYS, WORD_START) if whole_words else INPUT_KEYS
    return {key: tf.TensorSpec([max_length], tf.int32) for key in keys}


# --- TFRecord shards ---
def write_tfrecords(examples: Iterable[PretrainingExample], output_dir: str | os.PathLike, max_length: int,
                    num_shards: int = 10, prefix: str = "pretrain_data") -> list[str]:
    """Writes examples round-robin into `num_shards` TFRecord files; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord") for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(path) for path in paths]
    count = 0
    try:
        for count, features in enumerate(_padded(examples, max_length), start=1):
            record = tf.train.Example(features=tf.train.Features(feature={
                name: tf.train.Feature(int64_list=tf.train.Int64List(value=features[key]))
                for name, key in _RECORD_FEATURES.items() if key in features}))
            writers[(count - 1) % num_shards].write(record.SerializeToString())
    finally:
        for writer in writers:
            writer.close()
    if count == 0:
        for path in paths:
            os.remove(path)
        raise ValueError("The corpus holds no text: no example was written.")
    return paths


# The original's names, and ours for word starts (only in shards built for whole-word masking).
_RECORD_FEATURES = {"input_ids": "token_ids", "input_mask": "padding_mask", "segment_ids": "segment_ids",
                    WORD_START: WORD_START}


def _parse_records(files: tf.data.Dataset, max_length: int, whole_words: bool) -> tf.data.Dataset:
    names = {name: key for name, key in _RECORD_FEATURES.items() if whole_words or key != WORD_START}
    spec = {name: tf.io.FixedLenFeature([max_length], tf.int64) for name in names}

    def parse(record):
        features = tf.io.parse_single_example(record, spec)
        return {key: tf.cast(features[name], tf.int32) for name, key in names.items()}

    return files.interleave(tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).map(
        parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _check_records(path: str, max_length: int, whole_words: bool) -> None:
    for record in tf.data.TFRecordDataset(path).take(1):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        length = len(features["input_ids"].int64_list.value)
        if length != max_length:
            raise ValueError(f"{path} holds examples of length {length}, not seq_len={max_length}.")
        if whole_words and WORD_START not in features:
            raise ValueError(f"{path} holds no word starts: build the shards with --whole_word_masking for "
                             "whole-word masking.")


# --- The training input ---
@dataclasses.dataclass(frozen=True)
class CorpusSource:
    """Where pre-training text comes from: exactly one of the three fields."""

    text_files: str | None = None  # glob of text files
    tfrecords: str | None = None  # glob of TFRecord shards from `write_tfrecords`
    tfds_name: str | None = None  # TFDS dataset name; with `tfds_split`, `tfds_text_key`, `tfds_data_dir`
    tfds_split: str = "train"
    tfds_text_key: str = "text"
    tfds_data_dir: str | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("text_files", "tfrecords", "tfds_name") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"Give exactly one corpus source (text files, TFRecords or a TFDS name), got {given}.")


def corpus_documents(source: CorpusSource) -> Iterator[Document]:
    """Every document of a text-file or TFDS source, in order."""
    if source.tfrecords:
        raise ValueError("TFRecords hold token ids, not text: give text files or a TFDS dataset.")
    if source.tfds_name:
        return tfds_documents(source.tfds_name, source.tfds_split, source.tfds_text_key, source.tfds_data_dir)
    return (document for path in match_files(source.text_files) for document in text_file_documents(path))


def pretraining_dataset(source: CorpusSource, tokenizer: WordPieceTokenizer | None, *, max_length: int,
                        batch_size: int, seed: int = 0, num_workers: int = 1, worker_index: int = 0,
                        repeat: bool = True, skip_batches: int = 0,
                        whole_words: WholeWords | None = None) -> tf.data.Dataset:
    """Batches of fixed-length `{token_ids, segment_ids, padding_mask}` for `ElectraPretrainer.fit`, and
    `word_start` with `whole_words` (the pre-trainer then masks whole words).

    Files are read interleaved in a seeded shuffled order and examples shuffled in a buffer, so a run is
    deterministic given `seed`. With several workers (multi-worker training) each reads a disjoint share:
    whole files when there are at least as many files as workers, else every `num_workers`-th example.

    Args:
        source: `CorpusSource`.
        tokenizer: `WordPieceTokenizer`; unused (may be None) for TFRecords, which hold ids.
        max_length: int. Tokens per example.
        batch_size: int. Examples per batch (this worker's share of the global batch).
        seed: int. Seed of the file order, packing and shuffling.
        num_workers: int. Number of input pipelines (hosts). Defaults to `1`.
        worker_index: int. This host's index in `[0, num_workers)`. Defaults to `0`.
        repeat: bool. Loop over the corpus forever. Defaults to `True`.
        skip_batches: int. Batches to skip, to resume a run where it stopped. Defaults to `0`.
        whole_words: `WholeWords` or None. Give word starts for whole-word masking (TFRecords must hold
            them: `write_tfrecords` of examples built with `whole_words`). Defaults to `None`.
    """
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index {worker_index} is outside [0, {num_workers}).")
    if source.tfds_name:
        # Each worker reads its own even slice of the split.
        split = _tfds_worker_split(source.tfds_split, num_workers, worker_index)

        def documents() -> Iterator[Document]:
            return tfds_documents(source.tfds_name, split, source.tfds_text_key, source.tfds_data_dir)

        if next(documents(), None) is None:
            raise ValueError(f"TFDS dataset {source.tfds_name!r} split {split!r} holds no text.")
        examples = tf.data.Dataset.from_generator(
            lambda: _padded(build_examples(documents(), tokenizer, max_length, seed=seed, whole_words=whole_words),
                            max_length),
            output_signature=_example_signature(max_length, whole_words is not None))
    else:
        files = match_files(source.tfrecords or source.text_files)
        by_file = len(files) >= num_workers
        file_dataset = tf.data.Dataset.from_tensor_slices(files)
        if by_file:
            file_dataset = file_dataset.shard(num_workers, worker_index)
        file_dataset = file_dataset.shuffle(len(files), seed=seed)
        if source.tfrecords:
            _check_records(files[0], max_length, whole_words is not None)
            examples = _parse_records(file_dataset, max_length, whole_words is not None)
        else:
            _check_has_text(files)
            examples = file_dataset.interleave(
                lambda path: _text_file_examples(path, tokenizer, max_length, seed, whole_words),
                cycle_length=min(4, len(files)))
        if not by_file:
            examples = examples.shard(num_workers, worker_index)
    # Shuffled before repeating: each pass over the corpus in its own order, and a corpus smaller than the buffer
    # fills it once rather than being re-read until 10,000 examples are in (minutes for a small sample).
    examples = examples.shuffle(10_000, seed=seed)
    if repeat:
        examples = examples.repeat()
    # Fixed batch shapes: the pre-training step's mask slots are static.
    dataset = examples.batch(batch_size, drop_remainder=True).skip(skip_batches)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF  # sharded above
    return prefetched(dataset.with_options(options))


@tf.autograph.experimental.do_not_convert  # plain Python generator inside: nothing for AutoGraph to convert
def _text_file_examples(path: tf.Tensor, tokenizer: WordPieceTokenizer, max_length: int, seed: int,
                        whole_words: WholeWords | None) -> tf.data.Dataset:
    def generate(path: bytes) -> Iterator[dict[str, np.ndarray]]:
        # Each file packs with its own seeded builder: the examples do not depend on the interleave order.
        file_seed = seed ^ zlib.crc32(path)
        yield from _padded(build_examples(text_file_documents(path.decode()), tokenizer, max_length,
                                          seed=file_seed, whole_words=whole_words), max_length)

    return tf.data.Dataset.from_generator(generate, args=(path,),
                                          output_signature=_example_signature(max_length, whole_words is not None))


# A text file whose first bytes are more than this share non-text (undecodable or control characters) is not
# a corpus (a binary file, random bytes, a wrong encoding): pre-training on it would learn nothing.
MAX_NON_TEXT_SHARE = 0.1
_SNIFFED_BYTES = 1 << 16


def non_text_share(path: str | os.PathLike) -> float:
    """The share of the first 64 KiB of a file that is not text: bytes that are not UTF-8, and control
    characters other than whitespace."""
    with open(path, "rb") as f:
        head = f.read(_SNIFFED_BYTES)
    text = head.decode("utf-8", errors="replace")
    bad = sum(1 for char in text if char == "\ufffd" or (char < " " and char not in "\t\n\r\f\v"))
    return bad / max(len(text), 1)


def _check_has_text(files: Sequence[str]) -> None:
    """Refuses files that are mostly not text (naming them and their share) and a corpus with no text at all."""
    for path in files:
        share = non_text_share(path)
        if share > MAX_NON_TEXT_SHARE:
            raise ValueError(f"{path} is not a text corpus: {share:.0%} of its first {_SNIFFED_BYTES // 1024} KiB "
                             "are not UTF-8 text (a binary file or another encoding?).")
    for path in files:
        if any(True for _ in text_file_documents(path)):
            return
    raise ValueError(f"The corpus holds no text: every line of {list(files)} is blank.")


def _tfds_worker_split(split: str, num_workers: int, worker_index: int) -> str:
    if num_workers == 1:
        return split
    import tensorflow_datasets as tfds

    return tfds.even_splits(split, num_workers)[worker_index]
