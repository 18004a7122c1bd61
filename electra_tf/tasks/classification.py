"""What the text-classification tasks share: batches made with the model's own preprocessor, and logits."""

from __future__ import annotations

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
