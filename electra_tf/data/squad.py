"""SQuAD-format question answering data: JSON files (v1.1 / v2.0, plain or gzipped, XQuAD too) and TFDS
`squad/v1.1`, `squad/v2.0`, as one list of `QaExample`s per split.

SQuAD's `answer_start` is a character index into the context (Python's `str` indexing). An answer whose text
is not at its `answer_start` cannot label a training span: it is dropped (and counted); a training question left
without answers is skipped, as google-research/electra does. Questions with an empty question or context are
skipped and counted too; a file that is not SQuAD JSON is an error naming the file and where it breaks.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import os
import pathlib
from typing import Any, Iterable

from electra_tf.evaluation.squad import VERSIONS


@dataclasses.dataclass(frozen=True)
class QaExample:
    """One question on one context; `answers` are its gold texts, `answer_starts` their character indices
    (empty for an unanswerable SQuAD 2.0 question)."""

    qid: str
    question: str
    context: str
    answers: tuple[str, ...] = ()
    answer_starts: tuple[int, ...] = ()
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


@dataclasses.dataclass
class QaSplit:
    """The questions of one split, where they came from, the SQuAD version, and what was skipped (by reason)."""

    examples: list[QaExample]
    source: str
    version: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.examples)

    def gold(self) -> dict[str, list[str]]:
        """{qid: gold answer texts} as the evaluation scripts read them."""
        return {example.qid: list(example.answers) for example in self.examples}

    def by_title(self, titles: Iterable[str]) -> "QaSplit":
        """The questions of the given articles (to split SQuAD 2.0 dev into train and dev by article)."""
        wanted = set(titles)
        return dataclasses.replace(self, examples=[example for example in self.examples if example.title in wanted])

    def titles(self) -> list[str]:
        """The articles, in file order."""
        return list(dict.fromkeys(example.title for example in self.examples))


def read_squad(path: str | os.PathLike, version: str | None = None, *, training: bool = False) -> QaSplit:
    """A SQuAD JSON file (`.json` or `.json.gz`).

    Args:
        path: the file.
        version: `1.1` or `2.0`; by default the file's `version` field (`v2.0` -> `2.0`), else `2.0` when any
            question has `is_impossible`, else `1.1`.
        training: drop answers whose text is not at their `answer_start` (and questions left without one);
            for evaluation only the texts matter and every answer is kept.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No SQuAD file at {path}.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as file:
            content = json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg}).") from None
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise ValueError(f"{path}: not SQuAD JSON (expected an object with a 'data' list of articles).")
    return _split(_file_questions(content["data"], path), str(path), version or _file_version(content), training)


def _file_version(content: dict) -> str:
    declared = str(content.get("version", "")).lstrip("v")
    if declared in VERSIONS:
        return declared
    has_impossible = any("is_impossible" in qa for article in content["data"] for paragraph in article["paragraphs"]
                         for qa in paragraph["qas"])
    return "2.0" if has_impossible else "1.1"


def _file_questions(articles: list, path: pathlib.Path) -> Iterable[dict[str, Any]]:
    for article_number, article in enumerate(articles):
        for paragraph_number, paragraph in enumerate(article.get("paragraphs", ())):
            for question_number, qa in enumerate(paragraph.get("qas", ())):
                where = f"{path}: article {article_number}, paragraph {paragraph_number}, question {question_number}"
                try:
                    answers = [] if qa.get("is_impossible") else qa["answers"]
                    yield {"qid": str(qa["id"]), "question": qa["question"], "context": paragraph["context"],
                           "title": article.get("title", ""), "answers": [answer["text"] for answer in answers],
                           "answer_starts": [int(answer["answer_start"]) for answer in answers]}
                except (KeyError, TypeError, ValueError) as error:
                    raise ValueError(f"{where}: malformed question ({type(error).__name__}: {error}).") from None


def read_squad_tfds(name: str, split: str, data_dir: str | None = None, *, training: bool = False) -> QaSplit:
    """A split of TFDS `squad/v1.1` or `squad/v2.0` (prepared in `data_dir`); `training` as `read_squad`."""
    import tensorflow_datasets as tfds

    try:
        dataset = tfds.load(name, split=split, data_dir=data_dir, download=False)
    except AssertionError as error:  # TFDS asserts when the data was never downloaded or prepared
        raise FileNotFoundError(f"TFDS dataset {name!r} is not prepared in data_dir={data_dir!r}: {error}") from None
    version = "2.0" if name.endswith("2.0") else "1.1"

    def questions():
        for example in tfds.as_numpy(dataset):
            text = lambda value: value.decode("utf-8")
            impossible = bool(example.get("is_impossible", False))
            answers = example["answers"]
            yield {"qid": text(example["id"]), "question": text(example["question"]),
                   "context": text(example["context"]), "title": text(example["title"]),
                   "answers": [] if impossible else [text(value) for value in answers["text"]],
                   "answer_starts": [] if impossible else [int(value) for value in answers["answer_start"]]}

    return _split(questions(), f"tfds:{name}/{split}", version, training)


def _split(questions: Iterable[dict[str, Any]], source: str, version: str, training: bool) -> QaSplit:
    if version not in VERSIONS:
        raise ValueError(f"Unknown SQuAD version {version!r}; expected one of {', '.join(VERSIONS)}.")
    examples, skipped = [], collections.Counter()
    for question in questions:
        if not question["question"].strip() or not question["context"].strip():
            skipped["empty question or context"] += 1
            continue
        if training and question["answers"]:
            matching = [(text, start) for text, start in zip(question["answers"], question["answer_starts"])
                        if text and question["context"][start:start + len(text)] == text]
            skipped["answers not at their answer_start"] += len(question["answers"]) - len(matching)
            if not matching:
                skipped["questions without a usable answer"] += 1
                continue
            question["answers"], question["answer_starts"] = (list(values) for values in zip(*matching))
        if version == "1.1" and not question["answers"]:
            skipped["questions without answers (SQuAD 1.1)"] += 1
            continue
        examples.append(QaExample(question["qid"], question["question"], question["context"],
                                  tuple(question["answers"]), tuple(question["answer_starts"]), question["title"]))
    if not examples:
        raise ValueError(f"{source}: no usable questions ({dict(skipped) or 'the file has none'}).")
    return QaSplit(examples, source, version, {reason: count for reason, count in skipped.items() if count})
