"""NER data: CoNLL column files (CoNLL-2003, WNUT-17) and TFDS `conll2003`, as sentences of words and tags.

A CoNLL file has one word per line with its columns separated by a tab (WNUT-17: `word<TAB>tag`) or by spaces
(CoNLL-2003: `word POS chunk NER`), and a blank line between sentences; `-DOCSTART-` lines (document
boundaries) end a sentence and are not words. The tag is the last column unless told otherwise. Every data line
of a file must have the same number of columns, and every tag must be `O` or `B-`/`I-`/`E-`/`S-` + a type:
anything else is an error naming the file and line. The file's scheme (IOB1, BIO, BIOES) is detected
(`electra_tf.tag_schemes.detect_scheme`) or given; `NerSplit.tags_in` converts the tags to the training
scheme, losslessly.

Example:
```python
import pathlib, tempfile
path = pathlib.Path(tempfile.mkdtemp()) / "eng.train"
path.write_text("-DOCSTART- -X- O O\\n\\nEU NNP I-NP I-ORG\\nrejects VBZ I-VP O\\n\\n"
                "Peter NNP I-NP I-PER\\nBlackburn NNP I-NP I-PER\\n", encoding="utf-8")
split = read_conll(path)
assert split.scheme == "iob1" and len(split) == 2
assert split.sentences[1].words == ("Peter", "Blackburn") and split.sentences[1].line == 6
assert split.tags_in("bio")[1] == ["B-PER", "I-PER"]
assert split.entity_types() == ["ORG", "PER"]
```
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Iterator, Sequence

from electra_tf.tag_schemes import OUTSIDE, SCHEMES, convert, detect_scheme, split_tag

DOCUMENT_START = "-DOCSTART-"
TAG_PREFIXES = ("B", "I", "E", "S")
# The usual file names of each split: generic, CoNLL-2003's, WNUT-17's.
SPLIT_FILES = {
    "train": ("train.txt", "train.conll", "eng.train", "wnut17train.conll"),
    "dev": ("dev.txt", "valid.txt", "dev.conll", "eng.testa", "emerging.dev.conll"),
    "test": ("test.txt", "test.conll", "eng.testb", "emerging.test.annotated"),
}


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its words, their tags as in the file, and the line of its first word (1-based; 0 when it
    does not come from a file)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]
    line: int = 0


@dataclasses.dataclass(frozen=True)
class NerSplit:
    """The sentences of one split, where they came from, the scheme of their tags, and how many empty
    sentences (TFDS examples without words) were skipped."""

    sentences: list[TaggedSentence]
    source: str
    scheme: str
    skipped_empty: int = 0

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def words(self) -> list[tuple[str, ...]]:
        return [sentence.words for sentence in self.sentences]

    def tags_in(self, scheme: str) -> list[list[str]]:
        """Every sentence's tags written in `scheme` (the file's own tags when it is the file's scheme)."""
        if scheme == self.scheme:
            return [list(sentence.tags) for sentence in self.sentences]
        return [convert(sentence.tags, scheme) for sentence in self.sentences]

    def entity_types(self) -> list[str]:
        """The entity types the split's tags use, sorted."""
        return sorted({split_tag(tag)[1] for sentence in self.sentences for tag in sentence.tags if tag != OUTSIDE})

    def check_entity_types(self, known: Sequence[str]) -> None:
        """Raises naming the first tag (and its file and line) whose type is not in `known`."""
        known = set(known)
        for number, sentence in enumerate(self.sentences, start=1):
            for offset, tag in enumerate(sentence.tags):
                if tag != OUTSIDE and split_tag(tag)[1] not in known:
                    where = (f"{self.source}:{sentence.line + offset}" if sentence.line
                             else f"{self.source}, sentence {number}, word {offset + 1}")
                    raise ValueError(f"{where}: tag {tag!r} has a type the model was not trained on (known: "
                                     f"{', '.join(sorted(known))}).")


def read_conll(path: str | os.PathLike, tag_column: int = -1, scheme: str | None = None) -> NerSplit:
    """Reads a CoNLL column file.

    Args:
        path: the file.
        tag_column: int. The column holding the tag (0-based; negative counts from the end). Defaults to the last.
        scheme: `iob1`, `bio`, `bioes` or None to detect it from the tags.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line with another number of columns than the file's first data line, a malformed tag, or
            no sentence at all; the message names the file and line.
    """
    if scheme is not None and scheme not in SCHEMES:
        raise ValueError(f"Unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}.")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No CoNLL file at {path}.")
    sentences = list(_sentences(path, tag_column))
    if not sentences:
        raise ValueError(f"{path}: no sentences (expected one word per line, a blank line between sentences).")
    tags = [sentence.tags for sentence in sentences]
    return NerSplit(sentences, str(path), scheme or detect_scheme(tags))


def _sentences(path: pathlib.Path, tag_column: int) -> Iterator[TaggedSentence]:
    columns = None
    words, tags, first_line = [], [], 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = _fields(line)
            if not fields or fields[0] == DOCUMENT_START:
                if words:
                    yield TaggedSentence(tuple(words), tuple(tags), first_line)
                words, tags = [], []
                continue
            if columns is None:
                columns = len(fields)
                if not -columns <= tag_column < columns:
                    raise ValueError(f"{path}:{number}: no column {tag_column} in a line of {columns} columns.")
            if len(fields) != columns:
                raise ValueError(f"{path}:{number}: {len(fields)} columns where the file has {columns}: {line!r}")
            tag = fields[tag_column]
            if tag != OUTSIDE and not (split_tag(tag)[0] in TAG_PREFIXES and split_tag(tag)[1]):
                raise ValueError(f"{path}:{number}: {tag!r} is not a tag (expected O or B-/I-/E-/S- and a type).")
            if not words:
                first_line = number
            words.append(fields[0])
            tags.append(tag)
    if words:
        yield TaggedSentence(tuple(words), tuple(tags), first_line)


def _fields(line: str) -> list[str]:
    """A line's columns: tab-separated if it has a tab (words may then hold spaces), else space-separated.
    A line of whitespace only is a sentence boundary."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return []
    return line.split("\t") if "\t" in line else line.split()


def find_split_file(data_dir: str | os.PathLike, split: str) -> pathlib.Path | None:
    """The file of `split` (`train`, `dev`, `test`) in `data_dir` under one of its usual names, if any."""
    for name in SPLIT_FILES[split]:
        if (pathlib.Path(data_dir) / name).is_file():
            return pathlib.Path(data_dir) / name
    return None


def read_ner_tfds(name: str, split: str, data_dir: str | None = None, scheme: str | None = None) -> NerSplit:
    """A TFDS tagging dataset with `tokens` and `ner` sequence features (`conll2003`), prepared in `data_dir`."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    names = builder.info.features["ner"].feature.names
    sentences, skipped = [], 0
    for number, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split)), start=1):
        words, tags = example["tokens"], example["ner"]
        if len(words) != len(tags):
            raise ValueError(f"TFDS {name} split {split!r}, example {number}: {len(words)} words but {len(tags)} tags.")
        if len(words):
            sentences.append(TaggedSentence(tuple(word.decode("utf-8") for word in words),
                                            tuple(names[tag] for tag in tags)))
        else:
            skipped += 1
    if not sentences:
        raise ValueError(f"TFDS {name} split {split!r}: no sentences.")
    return NerSplit(sentences, f"tfds:{name}/{split}", scheme or detect_scheme([s.tags for s in sentences]), skipped)
