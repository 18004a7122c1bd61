"""Pre-training examples from a text corpus, built as the original `build_pretraining_dataset.py` does.

The corpus format is the original's: one sentence (or paragraph) per line, a blank line between documents.
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
from typing import Iterable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from electra_tf.text.tokenizer import WordPieceTokenizer


@dataclasses.dataclass(frozen=True)
class PretrainingExample:
    """One unpadded example: `[CLS] A [SEP] (B [SEP])` ids and their segment ids."""

    token_ids: list[int]
    segment_ids: list[int]


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
        self._sentences: list[Sequence[int]] = []
        self._length = 0
        self._target_length = max_length

    def add_sentence(self, token_ids: Sequence[int]) -> list[PretrainingExample]:
        """Adds one sentence (empty: a document boundary); returns the examples it completes (0 or 1)."""
        if not token_ids:
            return self.flush()
        self._sentences.append(token_ids)
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
        first: list[int] = []
        second: list[int] = []
        for sentence in self._sentences:
            # Into A if A is empty or has room; a sentence that overflows A goes there half the time while B
            # is still empty.
            if (not first or len(first) + len(sentence) < first_target
                    or (not second and len(first) < first_target and self._rng.random() < 0.5)):
                first += sentence
            else:
                second += sentence
        first = first[:self.max_length - 2]
        second = second[:max(0, self.max_length - len(first) - 3)]
        token_ids = [self.cls_token_id, *first, self.sep_token_id]
        segment_ids = [0] * len(token_ids)
        if second:
            token_ids += [*second, self.sep_token_id]
            segment_ids += [1] * (len(second) + 1)
        return PretrainingExample(token_ids, segment_ids)


def read_lines(file_pattern: str | Sequence[str]) -> Iterator[str]:
    """Lines of every file matching the glob(s), in sorted order, with a document break between files.

    Bytes that are not UTF-8 are replaced by U+FFFD (the tokenizer then drops or unknowns them) rather than
    stopping a long run on one bad byte.
    """
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = sorted({path for pattern in patterns for path in glob.glob(str(pattern))})
    if not files:
        raise FileNotFoundError(f"No corpus files match {patterns}.")
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                yield line.strip()
        yield ""


def build_examples(lines: Iterable[str], tokenizer: WordPieceTokenizer, max_length: int, *, seed: int = 0,
                   chunk_size: int = 2048) -> list[PretrainingExample]:
    """Tokenizes corpus lines (in chunks, in the graph) and packs them into examples."""
    builder = ExampleBuilder(max_length, tokenizer.cls_token_id, tokenizer.sep_token_id, seed=seed)
    examples: list[PretrainingExample] = []
    chunk: list[str] = []

    def consume(chunk: list[str]) -> None:
        for ids in tokenizer.tokenize(tf.constant(chunk)).to_list():
            examples.extend(builder.add_sentence(ids))

    for line in lines:
        chunk.append(line)
        if len(chunk) == chunk_size:
            consume(chunk)
            chunk = []
    if chunk:
        consume(chunk)
    examples.extend(builder.flush())
    if not examples:
        raise ValueError("The corpus holds no text: every line is empty.")
    return examples


def examples_to_dataset(examples: Sequence[PretrainingExample], max_length: int) -> tf.data.Dataset:
    """An unbatched dataset of `{token_ids, segment_ids, padding_mask}`, each padded to `max_length`."""
    token_ids = np.zeros((len(examples), max_length), np.int32)
    segment_ids = np.zeros_like(token_ids)
    padding_mask = np.zeros_like(token_ids)
    for row, example in enumerate(examples):
        length = len(example.token_ids)
        token_ids[row, :length] = example.token_ids
        segment_ids[row, :length] = example.segment_ids
        padding_mask[row, :length] = 1
    return tf.data.Dataset.from_tensor_slices(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})


def pretraining_dataset(file_pattern: str | Sequence[str], tokenizer: WordPieceTokenizer, *, max_length: int,
                        batch_size: int, seed: int = 0, repeat: bool = True) -> tf.data.Dataset:
    """Batches of fixed-length pre-training examples from text files, shuffled with `seed`."""
    examples = build_examples(read_lines(file_pattern), tokenizer, max_length, seed=seed)
    dataset = examples_to_dataset(examples, max_length).shuffle(len(examples), seed=seed)
    if repeat:
        dataset = dataset.repeat()
    # Fixed batch shapes: the pre-training step's mask slots are static.
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
