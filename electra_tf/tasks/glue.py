"""GLUE as a fine-tuning task: the tsv or TFDS readers, the classifier, GLUE's metrics and leaderboard files."""

from __future__ import annotations

import os
import pathlib

from electra_tf.data.glue import GlueSplit, double_unordered, get_task, read_glue_tfds, read_glue_tsv
from electra_tf.evaluation.glue import glue_metrics, write_glue_predictions
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.tasks.classification import TextClassificationTask


class GlueFinetuning(TextClassificationTask):
    """One GLUE task for `run_finetuning`.

    Args:
        task: str. A GLUE task name (`cola`, `sst2`, `mrpc`, `stsb`, `qqp`, `mnli`, `qnli`, `rte`, `wnli`).
        data_dir: path or None. The GLUE root in the standard tsv layout (`CoLA/`, `SST-2/`, ...).
        use_tfds: bool. Read `glue/<task>` from TFDS instead (prepared in `tfds_data_dir`).
        tfds_data_dir: str or None. The TFDS data directory.

    MRPC and STS-B train on both sentence orders (`double_unordered`), as google-research/electra does; QQP keeps
    its two empty questions, as the original trained on them.
    """

    def __init__(self, task: str, data_dir: str | os.PathLike | None = None, use_tfds: bool = False,
                 tfds_data_dir: str | None = None):
        self.task = get_task(task)  # fails early, naming the valid tasks
        if not use_tfds and not data_dir:
            raise ValueError("Give the GLUE data directory (data_dir) or use TFDS (use_tfds).")
        self.name = self.task.name
        self.data_dir = data_dir
        self.use_tfds = use_tfds
        self.tfds_data_dir = tfds_data_dir

    def read(self, split: str) -> GlueSplit:
        allow_empty = self.name == "qqp"
        if self.use_tfds:
            return read_glue_tfds(self.task, split, self.tfds_data_dir, allow_empty=allow_empty)
        return read_glue_tsv(self.task, self.data_dir, split, allow_empty=allow_empty)

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraClassifier:
        return ElectraClassifier.from_pretrained(
            model_dir, num_labels=self.task.num_classes, label_names=self.task.label_names,
            sequence_length=sequence_length, text_pair=self.task.text_pair)

    def train_data(self) -> GlueSplit:
        train = self.read("train")
        return double_unordered(train) if self.task.double_unordered else train

    def dev_data(self) -> dict[str, GlueSplit]:
        # dev, or MNLI's dev_matched (which selects) and dev_mismatched.
        return {file.split: self.read(file.split) for file in self.task.files
                if not file.is_test and file.split != "train"}

    def evaluate(self, model: ElectraClassifier, data: GlueSplit, batch_size: int) -> dict[str, float]:
        return glue_metrics(self.task, self.predict(model, data, batch_size), data.labels)

    def write_predictions(self, model: ElectraClassifier, output_dir: pathlib.Path, batch_size: int) -> list[str]:
        written = []
        for file in self.task.files:
            if not file.is_test:
                continue
            try:
                split = self.read(file.split)
            except FileNotFoundError:
                continue  # the GLUE test files are optional
            written.append(str(write_glue_predictions(self.task, split.indices, self.predict(model, split, batch_size),
                                                      output_dir / "predictions", split=file.split)))
        return written

    def settings(self) -> dict:
        return {"double_unordered": self.task.double_unordered}
