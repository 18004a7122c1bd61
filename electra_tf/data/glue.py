"""GLUE tasks: the task table, readers for the GLUE tsv layout and for TFDS, and the fine-tuning input.

`GLUE_TASKS` describes the ten GLUE tasks (https://gluebenchmark.com, https://arxiv.org/abs/1804.07461): labels,
text columns, metrics, TFDS names, and where each file of the standard GLUE download lives and how to read it
(the paper's fine-tuning settings per task are in `electra_tf.training.recipes`). A reader returns a
`GlueSplit` held in memory: the texts (one list, or two for sentence pairs), the labels as ids into
`GlueTask.label_names` (int32; float32 scores for STS-B) and, for test splits, the example indices the leaderboard
files need. `read_glue_tsv` and `read_glue_tfds` give the same label ids: `label_names` is in TFDS's order, and
the names are the ones the GLUE leaderboard expects in prediction files.

Local split names follow the GLUE files: `train`, `dev`, `test` (MNLI: `dev_matched`, `dev_mismatched`,
`test_matched`, `test_mismatched`; AX: `test` only). `read_glue_tfds` also takes TFDS's names (`validation`,
`validation_matched`, ...) and slices such as `train[:10%]`.

Example:
```python
import pathlib, tempfile
root = pathlib.Path(tempfile.mkdtemp())
(root / "RTE").mkdir()
(root / "RTE" / "dev.tsv").write_text(
    "index\\tsentence1\\tsentence2\\tlabel\\n"
    "0\\tA cat sat on the \\"mat\\".\\tA cat sat.\\tentailment\\n"
    "1\\tIt rained.\\tIt was dry.\\tnot_entailment\\n", encoding="utf-8")
split = read_glue_tsv("rte", root, "dev")
assert split.texts[1] == ["A cat sat.", "It was dry."] and split.labels.tolist() == [0, 1]
both = double_unordered(split)
assert len(both) == 4 and both.texts[0][2:] == split.texts[1]
assert get_task("rte").label_names == ("entailment", "not_entailment") and get_task("rte").text_pair
```
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import pathlib
import re

import numpy as np
import tensorflow as tf

from electra_tf.data.pipeline import prefetched

Column = str | int  # a header name, or a 0-based field index for files without a header


@dataclasses.dataclass(frozen=True)
class GlueFile:
    """One split of a task: its name, its TFDS split, and how to read its file in the GLUE layout.

    Args:
        split: str. Local split name (`train`, `dev`, `test`, `dev_matched`, ...).
        tfds_split: str. The matching TFDS split (`train`, `validation`, `test`, `validation_matched`, ...).
        file_name: str. The tsv file inside the task's folder.
        text_columns: tuple of str or int. The text column(s): header names, or field indices if no header.
        label_column: str, int or None. The label column; None for test files (no public labels).
        index_column: str, int or None. The example-index column of test files, written to prediction files.
        header: bool. Whether the first line is a header. Defaults to `True` (CoLA train/dev have none).
        prediction_file: str or None. Name of the leaderboard prediction file for a test split.
    """

    split: str
    tfds_split: str
    file_name: str
    text_columns: tuple[Column, ...]
    label_column: Column | None
    index_column: Column | None = None
    header: bool = True
    prediction_file: str | None = None

    @property
    def is_test(self) -> bool:
        return self.label_column is None


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task.

    Args:
        name: str. Short name (`cola`, `sst2`, ..., `ax`).
        label_names: tuple of str or None. Label names as leaderboard prediction files spell them; the id of a
            label is its position, in TFDS's order. None for the regression task STS-B.
        text_pair: bool. Whether an example is a sentence pair.
        text_keys: tuple of str. TFDS feature names of the text(s), in model order.
        metric_names: tuple of str. The keys `electra_tf.evaluation.glue_metrics` returns (besides `score`).
        tfds_name: str. TFDS dataset name (`glue/cola`, ...).
        local_dir: str. The task's folder in the GLUE download (`CoLA`, `SST-2`, ..., `diagnostic` for AX).
        files: tuple of `GlueFile`. The splits and how to read each file (AX has no training set: it is
            predicted with the MNLI model).
        double_unordered: bool. Train on both sentence orders (MRPC and STS-B), as google-research/electra does.
    """

    name: str
    label_names: tuple[str, ...] | None
    text_pair: bool
    text_keys: tuple[str, ...]
    metric_names: tuple[str, ...]
    tfds_name: str
    local_dir: str
    files: tuple[GlueFile, ...]
    double_unordered: bool = False

    @property
    def is_regression(self) -> bool:
        return self.label_names is None

    @property
    def num_classes(self) -> int:
        """Number of classes; 1 (one output score) for regression."""
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(file.split for file in self.files)

    def file(self, split: str) -> GlueFile:
        """The `GlueFile` of a local or TFDS split name; a `ValueError` listing the splits if there is none."""
        for file in self.files:
            if split in (file.split, file.tfds_split):
                return file
        raise ValueError(f"GLUE task {self.name!r} has no split {split!r}; its splits are {list(self.splits)} "
                         f"(TFDS: {[file.tfds_split for file in self.files]}).")


def _layout(prediction_file: str, texts: tuple[Column, ...], label: Column, test_texts: tuple[Column, ...],
            test_index: Column = "index", header: bool = True) -> tuple[GlueFile, ...]:
    """train.tsv, dev.tsv and test.tsv as the GLUE download script writes them."""
    return (GlueFile("train", "train", "train.tsv", texts, label, header=header),
            GlueFile("dev", "validation", "dev.tsv", texts, label, header=header),
            GlueFile("test", "test", "test.tsv", test_texts, None, test_index, prediction_file=prediction_file))


_BINARY = ("0", "1")
_NLI3 = ("entailment", "neutral", "contradiction")
_NLI2 = ("entailment", "not_entailment")
_PAIR = ("sentence1", "sentence2")
_MNLI_TEXTS = ("sentence1", "sentence2")

GLUE_TASKS: dict[str, GlueTask] = {task.name: task for task in (
    # CoLA train/dev: no header; fields source, label, original judgment, sentence.
    GlueTask("cola", _BINARY, False, ("sentence",), ("mcc",), "glue/cola", "CoLA",
             _layout("CoLA.tsv", (3,), 1, ("sentence",), header=False)),
    GlueTask("sst2", _BINARY, False, ("sentence",), ("accuracy",), "glue/sst2", "SST-2",
             _layout("SST-2.tsv", ("sentence",), "label", ("sentence",))),
    GlueTask("mrpc", _BINARY, True, _PAIR, ("accuracy", "f1"), "glue/mrpc", "MRPC",
             _layout("MRPC.tsv", ("#1 String", "#2 String"), "Quality", ("#1 String", "#2 String")),
             double_unordered=True),
    GlueTask("stsb", None, True, _PAIR, ("pearson", "spearman"), "glue/stsb", "STS-B",
             _layout("STS-B.tsv", _PAIR, "score", _PAIR), double_unordered=True),
    GlueTask("qqp", _BINARY, True, ("question1", "question2"), ("accuracy", "f1"), "glue/qqp", "QQP",
             _layout("QQP.tsv", ("question1", "question2"), "is_duplicate", ("question1", "question2"), "id")),
    GlueTask("mnli", _NLI3, True, ("premise", "hypothesis"), ("accuracy",), "glue/mnli", "MNLI", (
        GlueFile("train", "train", "train.tsv", _MNLI_TEXTS, "gold_label"),
        GlueFile("dev_matched", "validation_matched", "dev_matched.tsv", _MNLI_TEXTS, "gold_label"),
        GlueFile("dev_mismatched", "validation_mismatched", "dev_mismatched.tsv", _MNLI_TEXTS, "gold_label"),
        GlueFile("test_matched", "test_matched", "test_matched.tsv", _MNLI_TEXTS, None, "index",
                 prediction_file="MNLI-m.tsv"),
        GlueFile("test_mismatched", "test_mismatched", "test_mismatched.tsv", _MNLI_TEXTS, None, "index",
                 prediction_file="MNLI-mm.tsv"))),
    GlueTask("qnli", _NLI2, True, ("question", "sentence"), ("accuracy",), "glue/qnli", "QNLI",
             _layout("QNLI.tsv", ("question", "sentence"), "label", ("question", "sentence"))),
    GlueTask("rte", _NLI2, True, _PAIR, ("accuracy",), "glue/rte", "RTE",
             _layout("RTE.tsv", _PAIR, "label", _PAIR)),
    # TFDS names WNLI's classes (not_entailment, entailment): id 1 = entailment, written "1" as in the files.
    GlueTask("wnli", _BINARY, True, _PAIR, ("accuracy",), "glue/wnli", "WNLI",
             _layout("WNLI.tsv", _PAIR, "label", _PAIR)),
    # The diagnostic set: test only, labelled by the MNLI model; GLUE scores it with R3 (multi-class MCC).
    GlueTask("ax", _NLI3, True, ("premise", "hypothesis"), ("mcc",), "glue/ax", "diagnostic", (
        GlueFile("test", "test", "diagnostic.tsv", _PAIR, None, "index", prediction_file="AX.tsv"),)),
)}


def get_task(name: str | GlueTask) -> GlueTask:
    """The `GlueTask` called `name` (case and `-` ignored, so `SST-2` works); a `GlueTask` is returned as is."""
    if isinstance(name, GlueTask):
        return name
    key = str(name).lower().replace("-", "")
    if key not in GLUE_TASKS:
        raise ValueError(f"Unknown GLUE task {name!r}; the tasks are {', '.join(GLUE_TASKS)}.")
    return GLUE_TASKS[key]


@dataclasses.dataclass(frozen=True, eq=False)
class GlueSplit:
    """The examples of one split, in memory.

    Args:
        texts: tuple of one list of str (single sentences) or two (pairs), all the same length.
        labels: np.ndarray or None. int32 ids into `GlueTask.label_names` or float32 STS-B scores, shape [N];
            None for test splits.
        indices: list of str or None. The test file's example indices (for prediction files); None otherwise.
    """

    texts: tuple[list[str], ...]
    labels: np.ndarray | None = None
    indices: list[str] | None = None

    def __post_init__(self) -> None:
        if len(self.texts) not in (1, 2):
            raise ValueError(f"A GlueSplit holds one or two text lists, got {len(self.texts)}.")
        sizes = {"texts": [len(texts) for texts in self.texts]}
        if self.labels is not None:
            sizes["labels"] = [len(self.labels)]
        if self.indices is not None:
            sizes["indices"] = [len(self.indices)]
        if len({size for value in sizes.values() for size in value}) > 1:
            raise ValueError(f"The fields of a GlueSplit differ in length: {sizes}.")

    def __len__(self) -> int:
        return len(self.texts[0])


def sample_per_class(split: GlueSplit, count: int, seed: int, exclude: np.ndarray | None = None
                     ) -> tuple[GlueSplit, np.ndarray]:
    """`count` examples of each label drawn without replacement (few-shot training), and their indices in `split`;
    the indices in `exclude` are never drawn (a few-shot dev set disjoint from its training set)."""
    rng = np.random.default_rng(seed)
    available = np.setdiff1d(np.arange(len(split)), exclude if exclude is not None else [])
    chosen = []
    for label in np.unique(split.labels):
        of_label = available[split.labels[available] == label]
        if len(of_label) < count:
            raise ValueError(f"Only {len(of_label)} examples of label {label} to draw {count} from.")
        chosen.extend(rng.choice(of_label, count, replace=False))
    chosen = rng.permutation(np.asarray(chosen))
    return GlueSplit(tuple([texts[i] for i in chosen] for texts in split.texts), split.labels[chosen]), chosen


def read_glue_tsv(task: str | GlueTask, data_dir: str | os.PathLike, split: str, *,
                  allow_empty: bool = False) -> GlueSplit:
    """Reads one split from the standard GLUE layout: `data_dir/<task.local_dir>/<file>`.

    Files are read with the csv module, tab-delimited with `quoting=csv.QUOTE_NONE` (GLUE texts contain quotes),
    as UTF-8 with an optional BOM (MRPC's files start with one). Blank lines are skipped.

    Args:
        task: str or `GlueTask`.
        data_dir: path. The GLUE root, holding `CoLA/`, `SST-2/`, ....
        split: str. A local split name of the task (`train`, `dev`, `test`, `dev_matched`, ...).
        allow_empty: bool. Keep examples with an empty text instead of raising (GLUE's QQP train has two empty
            questions; the original code trained on them). Defaults to `False`.

    Raises:
        FileNotFoundError: the file is missing. ValueError: a column is missing, or a row is too short, has an
            empty text, a label outside the task's labels or a non-numeric score; the message names the line.
    """
    task = get_task(task)
    spec = task.file(split)
    path = pathlib.Path(data_dir) / task.local_dir / spec.file_name
    if not path.is_file():
        raise FileNotFoundError(f"No GLUE {task.name} {spec.split} file at {path}.")
    texts: tuple[list[str], ...] = tuple([] for _ in spec.text_columns)
    labels, indices = [], []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, []) if spec.header else None
        columns = [_column_index(column, header, path) for column in spec.text_columns]
        label_index = None if spec.is_test else _column_index(spec.label_column, header, path)
        index_index = None if spec.index_column is None else _column_index(spec.index_column, header, path)
        needed = max(i for i in (*columns, label_index, index_index) if i is not None) + 1
        for row in reader:
            if not row:
                continue
            where = f"line {reader.line_num} of {path}"
            if len(row) < needed:
                raise ValueError(f"{where} has {len(row)} tab-separated fields, expected at least {needed}.")
            for values, column in zip(texts, columns):
                values.append(_check_text(row[column], allow_empty, where))
            if label_index is not None:
                labels.append(_label_id(task, row[label_index], where))
            if index_index is not None:
                indices.append(row[index_index])
    return _split(task, texts, None if spec.is_test else labels, indices if spec.is_test else None)


def read_glue_tfds(task: str | GlueTask, split: str, data_dir: str | None = None, *,
                   allow_empty: bool = False) -> GlueSplit:
    """Reads one split of the TFDS `glue/<task>` dataset, which must be prepared in `data_dir` already.

    Args:
        task: str or `GlueTask`.
        split: str. A TFDS split (`train`, `validation`, `test`, `validation_matched`, ...; slices such as
            `train[:10%]` too) or a local name (`dev` reads `validation`).
        data_dir: str or None. TFDS data directory. Defaults to TFDS's default.
        allow_empty: bool. Keep examples with an empty text instead of raising. Defaults to `False`.
    """
    import tensorflow_datasets as tfds

    task = get_task(task)
    base = re.match(r"[A-Za-z_]+", split)
    spec = task.file(base.group(0) if base else split)
    tfds_split = spec.tfds_split + split[base.end():] if base else split
    try:
        dataset = tfds.load(task.tfds_name, split=tfds_split, data_dir=data_dir, download=False)
    except AssertionError as error:  # TFDS asserts when the data was never downloaded or prepared
        raise FileNotFoundError(f"TFDS dataset {task.tfds_name!r} is not prepared in data_dir={data_dir!r}: "
                                f"{error}") from None
    texts: tuple[list[str], ...] = tuple([] for _ in task.text_keys)
    labels, indices = [], []
    for batch in tfds.as_numpy(dataset.batch(4096)):
        for values, key in zip(texts, task.text_keys):
            values += [text.decode("utf-8") for text in batch[key]]
        labels += batch["label"].tolist()
        indices += [str(index) for index in batch["idx"]]
    where = f"{task.tfds_name} split {tfds_split!r}"
    for values, key in zip(texts, task.text_keys):
        for index, text in zip(indices, values):
            _check_text(text, allow_empty, f"example idx={index} ({key}) of {where}")
    if spec.is_test:  # TFDS stores -1 for the hidden test labels
        return _split(task, texts, None, indices)
    if not task.is_regression:
        for index, label in zip(indices, labels):
            if not 0 <= label < task.num_classes:
                raise ValueError(f"Example idx={index} of {where} has label {label}, outside "
                                 f"[0, {task.num_classes}).")
    return _split(task, texts, labels, None)


def double_unordered(split: GlueSplit) -> GlueSplit:
    """The pairs in both orders: the examples as given, then each with its two sentences swapped.

    google-research/electra trains MRPC and STS-B on this (`double_unordered`): both are symmetric tasks.
    """
    if len(split.texts) != 2:
        raise ValueError("double_unordered needs sentence pairs; this split holds single sentences.")
    first, second = split.texts
    labels = None if split.labels is None else np.concatenate([split.labels, split.labels])
    indices = None if split.indices is None else split.indices + split.indices
    return GlueSplit((first + second, second + first), labels, indices)


def glue_dataset(split: GlueSplit, preprocessor, batch_size: int, *, shuffle: bool,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of `(model_inputs, label)` (only `model_inputs` without labels), tokenized in the graph.

    The strings go through `tf.data`; each batch is packed by `preprocessor` inside `Dataset.map`. Labels are
    int32 class ids, or float32 scores for regression. The last batch may be smaller.

    Args:
        split: `GlueSplit`.
        preprocessor: `ElectraPreprocessor` (or any callable taking `(texts, labels)` like it).
        batch_size: int. Examples per batch.
        shuffle: bool. Shuffle all examples, anew each epoch (training); False keeps the order (evaluation).
        seed: int. Seed of the shuffle. Defaults to `0`.

    Example:
    ```python
    import pathlib, tempfile
    from electra_tf.text import ElectraPreprocessor, WordPieceTokenizer
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "a", "dog", "."]
    path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    path.write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    preprocessor = ElectraPreprocessor(WordPieceTokenizer(path), sequence_length=8)
    split = GlueSplit((["the cat sat .", "a dog", "the dog"], ["a cat", "the cat", "."]), np.array([0, 1, 1]))
    x, y = next(iter(glue_dataset(split, preprocessor, batch_size=2, shuffle=False)))
    assert x["token_ids"].numpy().tolist()[1] == [2, 8, 9, 3, 5, 6, 3, 0] and y.dtype == tf.int32
    ```
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    texts = tuple(tf.constant(values, tf.string, shape=[len(values)]) for values in split.texts)
    pair = len(texts) == 2
    if split.labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(texts if pair else texts[0])
        pack = (lambda first, second: preprocessor((first, second))) if pair else preprocessor
    else:
        dtype = np.float32 if np.issubdtype(np.asarray(split.labels).dtype, np.floating) else np.int32
        dataset = tf.data.Dataset.from_tensor_slices((texts if pair else texts[0], split.labels.astype(dtype)))
        pack = lambda x, y: preprocessor(x, y)  # noqa: E731  (x is a tuple for pairs)
    if shuffle:
        dataset = dataset.shuffle(max(1, len(split)), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(pack, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return prefetched(dataset)


# --- Helpers ---
def _column_index(column: Column, header: list[str] | None, path: pathlib.Path) -> int:
    if isinstance(column, int):
        return column
    if header is None or column not in header:
        raise ValueError(f"{path} has no column {column!r}; its header is {header}.")
    return header.index(column)


def _check_text(text: str, allow_empty: bool, where: str) -> str:
    if not allow_empty and not text.strip():
        raise ValueError(f"{where} has an empty text; pass allow_empty=True to keep such examples.")
    return text


def _label_id(task: GlueTask, label: str, where: str) -> int | float:
    if task.is_regression:
        try:
            score = float(label)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise ValueError(f"{where}: the {task.name} score {label!r} is not a number.")
        return score
    if label not in task.label_names:
        raise ValueError(f"{where}: label {label!r} is not one of the {task.name} labels {list(task.label_names)}.")
    return task.label_names.index(label)


def _split(task: GlueTask, texts: tuple[list[str], ...], labels: list | None,
           indices: list[str] | None) -> GlueSplit:
    if labels is not None:
        labels = np.asarray(labels, np.float32 if task.is_regression else np.int32)
    return GlueSplit(texts, labels, indices)
