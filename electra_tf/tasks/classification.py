"""What the text-classification tasks share: batches made with the model's own preprocessor, and logits."""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

from electra_tf.data.glue import GlueSplit, glue_dataset
from electra_tf.models.classifier import ElectraClassifier


class TextClassificationTask:
    """Base of the tasks whose examples are a `GlueSplit` of texts (or pairs) and labels for an
    `ElectraClassifier`: GLUE, the quick start's passage sources."""

    def dataset(self, data: GlueSplit, model: ElectraClassifier, batch_size: int, shuffle: bool,
                seed: int = 0) -> tf.data.Dataset:
        return glue_dataset(data, model.preprocessor, batch_size, shuffle=shuffle, seed=seed)

    def prepare_for_saving(self, model: ElectraClassifier, dev_metrics: dict[str, float]) -> None:
        """Nothing to set: a classifier is saved as trained."""

    def predict(self, model: ElectraClassifier, data: GlueSplit, batch_size: int) -> np.ndarray:
        """Logits [N, num_labels] for the texts of `data` (its labels unused).

        The texts go through the model shortest first, so that each batch, padded to its own longest text,
        holds little padding; the logits come back in the split's order."""
        order = np.argsort([sum(len(texts[i]) for texts in data.texts) for i in range(len(data.texts[0]))],
                           kind="stable")
        by_length = GlueSplit(tuple([texts[i] for i in order] for texts in data.texts))
        logits = model.predict(self.dataset(by_length, model, batch_size, shuffle=False), verbose=0)
        in_order = np.empty_like(logits)
        in_order[order] = logits
        return in_order


class InMemoryClassificationTask(TextClassificationTask):
    """A single-text task given as train and dev splits in memory, scored by dev accuracy (percent) next to the
    majority class, with no test predictions: the quick start's passage sources, Chinese sentiment.

    Subclasses set `name` and `label_names` and read their splits."""

    name: str
    label_names: tuple[str, ...]

    def __init__(self, train: GlueSplit, dev: GlueSplit):
        self.train, self.dev = train, dev

    def new_model(self, model_dir: str, sequence_length: int) -> ElectraClassifier:
        return ElectraClassifier.from_pretrained(model_dir, label_names=self.label_names,
                                                 sequence_length=sequence_length)

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
