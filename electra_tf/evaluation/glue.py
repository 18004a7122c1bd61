"""GLUE metrics, the GLUE average, and prediction files for the GLUE leaderboard.

Every number is a percentage (x100, as the ELECTRA paper and the GLUE leaderboard report them). The formulas are
scikit-learn's and scipy's: CoLA `mcc` (Matthews correlation), STS-B `pearson` and `spearman`, MRPC and QQP
`accuracy` and `f1` (of the positive class, 1 = paraphrase / duplicate), AX `mcc` (GLUE's R3 for the diagnostic
set, the multi-class Matthews correlation), the others `accuracy`. `score` is the task's headline number as GLUE
computes it: the mean of the task's metrics (CoLA MCC; STS-B mean of Pearson and Spearman; MRPC and QQP mean of F1
and accuracy; otherwise accuracy).

Example:
```python
import pathlib, tempfile
metrics = glue_metrics("mrpc", predictions=[1, 1, 0, 1], labels=[1, 0, 0, 1])
assert metrics["accuracy"] == 75.0 and abs(metrics["f1"] - 80.0) < 1e-9 and metrics["score"] == 77.5
assert glue_average({"cola": 60.0, "mnli_matched": 80.0, "mnli_mismatched": 82.0}) == 70.5
path = write_glue_predictions("rte", ["0", "1"], [[2.0, -1.0], [0.0, 3.0]], tempfile.mkdtemp())
assert path.name == "RTE.tsv"
assert path.read_text() == "index\\tprediction\\n0\\tentailment\\n1\\tnot_entailment\\n"
```
"""

from __future__ import annotations

import os
import pathlib
import warnings
from typing import Mapping, Sequence

import numpy as np
import scipy.stats
from sklearn import metrics as sk_metrics

from electra_tf.data.glue import GlueTask, get_task

_MNLI_PARTS = {"mnli_m": "matched", "mnli_matched": "matched", "mnli_mm": "mismatched",
               "mnli_mismatched": "mismatched"}


def glue_metrics(task: str | GlueTask, predictions, labels) -> dict[str, float]:
    """The task's GLUE metrics and its `score`, all in percent.

    Args:
        task: str or `GlueTask`.
        predictions: array. Class ids [N], or logits/probabilities [N, num_classes] (their argmax is taken); STS-B
            scores [N] or [N, 1].
        labels: array. Class ids [N] (ids into `GlueTask.label_names`), or STS-B scores [N].

    Returns:
        dict of float: each of `task.metric_names`, and `score`. Pearson and Spearman are NaN when the
        predictions or the labels are constant (the correlation is undefined).
    """
    task = get_task(task)
    predictions = _as_predictions(task, predictions)
    labels = np.asarray(labels)
    if labels.shape != predictions.shape or not len(labels):
        raise ValueError(f"Expected the same non-zero number of {task.name} predictions and labels, got shapes "
                         f"{predictions.shape} and {labels.shape}.")
    if task.is_regression:
        labels = labels.astype(np.float64)
        with warnings.catch_warnings():  # constant input: NaN, as documented
            warnings.simplefilter("ignore", scipy.stats.ConstantInputWarning)
            values = {"pearson": scipy.stats.pearsonr(predictions, labels)[0],
                      "spearman": scipy.stats.spearmanr(predictions, labels)[0]}
    else:
        labels = _check_ids(task, labels, "labels")
        predictions = _check_ids(task, predictions, "predictions")
        formulas = {"accuracy": sk_metrics.accuracy_score, "mcc": sk_metrics.matthews_corrcoef,
                    "f1": lambda y, p: sk_metrics.f1_score(y, p, pos_label=1, zero_division=0.0)}
        values = {name: formulas[name](labels, predictions) for name in task.metric_names}
    metrics = {name: 100.0 * float(values[name]) for name in task.metric_names}
    metrics["score"] = float(np.mean([metrics[name] for name in task.metric_names]))
    return metrics


def glue_average(scores: Mapping[str, float | Mapping[str, float]]) -> float:
    """The GLUE score over the tasks given: the unweighted mean of their `score`s.

    MNLI counts as one task. Give it either as `mnli`, or as `mnli_matched` and `mnli_mismatched` (also spelled
    `mnli-m`, `mnli-mm`), which are averaged first; one of the two alone stands for MNLI. AX is a diagnostic, not
    part of the GLUE score, and is refused. Leave out WNLI to get the ELECTRA paper's GLUE score (the BERT and
    ELECTRA papers exclude it).

    Args:
        scores: dict from task name to its score in percent, or to the dict `glue_metrics` returns.
    """
    if not scores:
        raise ValueError("glue_average needs at least one task score.")
    by_task: dict[str, float] = {}
    mnli: dict[str, float] = {}
    for key, value in scores.items():
        score = float(value["score"] if isinstance(value, Mapping) else value)
        part = _MNLI_PARTS.get(key.lower().replace("-", "_"))
        if part:
            mnli[part] = score
            continue
        name = get_task(key).name
        if name == "ax":
            raise ValueError("AX (the diagnostic set) is not part of the GLUE score; leave it out.")
        if name in by_task:
            raise ValueError(f"Task {name!r} is given twice.")
        by_task[name] = score
    if mnli:
        if "mnli" in by_task:
            raise ValueError("Give MNLI either as 'mnli' or as matched/mismatched scores, not both.")
        by_task["mnli"] = float(np.mean(list(mnli.values())))
    return float(np.mean(list(by_task.values())))


def write_glue_predictions(task: str | GlueTask, indices: Sequence[str | int], predictions,
                           output_dir: str | os.PathLike, *, split: str | None = None) -> pathlib.Path:
    """Writes a GLUE leaderboard file (`CoLA.tsv`, ..., `MNLI-m.tsv`, `MNLI-mm.tsv`, `AX.tsv`) into `output_dir`.

    The file has the header `index\\tprediction`, then one line per example: its test-file index and the label
    name (STS-B: the score clipped to [0, 5], with 3 decimals).

    Args:
        task: str or `GlueTask`.
        indices: sequence. The test examples' indices (`GlueSplit.indices`).
        predictions: array. As for `glue_metrics`: class ids, logits [N, num_classes], or STS-B scores.
        output_dir: path. Created if missing.
        split: str or None. The test split predicted; needed for MNLI (`test_matched` or `test_mismatched`).
            Defaults to the task's only test split.

    Returns:
        The path of the file written.
    """
    task = get_task(task)
    tests = [file for file in task.files if file.prediction_file]
    if split is None:
        if len(tests) != 1:
            raise ValueError(f"{task.name} has several test splits; pass split= one of "
                             f"{[file.split for file in tests]}.")
        spec = tests[0]
    else:
        spec = task.file(split)
        if not spec.prediction_file:
            raise ValueError(f"{task.name} split {split!r} is not a test split; the leaderboard takes "
                             f"{[file.split for file in tests]}.")
    predictions = _as_predictions(task, predictions)
    if len(indices) != len(predictions):
        raise ValueError(f"Got {len(indices)} indices and {len(predictions)} predictions.")
    if task.is_regression:
        values = [f"{score:.3f}" for score in np.clip(predictions, 0.0, 5.0)]
    else:
        values = [task.label_names[i] for i in _check_ids(task, predictions, "predictions")]
    path = pathlib.Path(output_dir) / spec.prediction_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("index\tprediction\n")
        f.writelines(f"{index}\t{value}\n" for index, value in zip(indices, values))
    return path


def _as_predictions(task: GlueTask, predictions) -> np.ndarray:
    """Predictions as a rank-1 array: class ids (argmax of rank-2 logits), or float STS-B scores."""
    predictions = np.asarray(predictions)
    if task.is_regression:
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions[:, 0]
        if predictions.ndim != 1:
            raise ValueError(f"Expected STS-B scores of shape [N] or [N, 1], got {predictions.shape}.")
        return predictions.astype(np.float64)
    if predictions.ndim == 2:
        if predictions.shape[1] != task.num_classes:
            raise ValueError(f"{task.name} has {task.num_classes} classes; got logits of shape {predictions.shape}.")
        return predictions.argmax(axis=-1)
    if predictions.ndim != 1:
        raise ValueError(f"Expected class ids [N] or logits [N, {task.num_classes}], got {predictions.shape}.")
    return predictions


def _check_ids(task: GlueTask, ids: np.ndarray, what: str) -> np.ndarray:
    if not (np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)):
        raise ValueError(f"{task.name} {what} must be class ids in [0, {task.num_classes}), got dtype {ids.dtype}.")
    if ids.size and (not np.all(np.equal(np.mod(ids, 1), 0)) or ids.min() < 0 or ids.max() >= task.num_classes):
        raise ValueError(f"{task.name} {what} must be class ids in [0, {task.num_classes}); got values from "
                         f"{ids.min()} to {ids.max()}.")
    return ids.astype(np.int64)
