"""Which source a passage of the bundled corpus comes from, as a fine-tuning task: the quick start's task, which
needs no download (`electra_tf.data.passages`)."""

from __future__ import annotations

import pathlib

import numpy as np

from electra_tf.data.glue import GlueSplit
from electra_tf.data.passages import PASSAGE_SOURCES, read_passage_sources
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.tasks.classification import TextClassificationTask


class PassageSourceFinetuning(TextClassificationTask):
    """The passage-source task for `run_finetuning`: four balanced classes, scored by accuracy (percent)."""

    name = "passage_source"

    def __init__(self, **read_options):
        self.train, self.dev = read_passage_sources(**read_options)

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraClassifier:
        return ElectraClassifier.from_pretrained(model_dir, label_names=PASSAGE_SOURCES, sequence_length=sequence_length)

    def train_data(self) -> GlueSplit:
        return self.train

    def dev_data(self) -> dict[str, GlueSplit]:
        return {"dev": self.dev}

    def evaluate(self, model: ElectraClassifier, data: GlueSplit, batch_size: int) -> dict[str, float]:
        logits = self.predict(model, data, batch_size)
        accuracy = 100.0 * float(np.mean(logits.argmax(axis=-1) == data.labels))
        return {"accuracy": accuracy, "score": accuracy}

    def majority_accuracy(self) -> float:
        """Dev accuracy of always answering the most frequent training label (percent)."""
        majority = np.bincount(self.train.labels).argmax()
        return 100.0 * float(np.mean(self.dev.labels == majority))

    def write_predictions(self, model: ElectraClassifier, output_dir: pathlib.Path, batch_size: int) -> list[str]:
        return []  # no test split

    def settings(self) -> dict:
        return {"train_examples": len(self.train), "dev_examples": len(self.dev)}
