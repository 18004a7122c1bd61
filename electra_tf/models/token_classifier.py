"""`ElectraTokenClassifier`: one label per token (NER, chunking, part-of-speech tagging)."""

from __future__ import annotations

from typing import Sequence

import keras

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel
from electra_tf.models.labels import resolve_labels

# The label of tokens the loss skips: word-piece continuations, [CLS]/[SEP], padding (Hugging Face's value).
IGNORED_LABEL = -100


@registry.register
class ElectraTokenClassifier(EncoderModel):
    """An ELECTRA encoder with a per-token classification head: dropout, then one Dense layer on every
    token's final hidden state.

    This is both the original tagging head (google-research/electra `tagging_tasks.py` applies one Dense to
    the first word-piece of each word) and Hugging Face's `ElectraForTokenClassification` (dropout + Dense on
    every token): which tokens count is decided by the labels, where `IGNORED_LABEL` (-100) marks the
    tokens the loss skips, e.g. every word-piece but a word's first.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        num_labels: int or None. Tag classes. Defaults to the number of `label_names`.
        label_names: sequence of str or None. The name of each tag, saved with the model.
        dropout: float. Dropout before the Dense layer. Defaults to `0.1`.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    tagger = ElectraTokenClassifier(config, num_labels=5)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(tagger(inputs).shape) == (1, 4, 5)
    tagger.compile(optimizer="adam")
    labels = np.array([[IGNORED_LABEL, 3, 0, IGNORED_LABEL]])
    history = tagger.fit(inputs, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    ```
    """

    TASK_TYPE = "token_classification"

    def __init__(self, config: ElectraConfig, num_labels: int | None = None, *,
                 label_names: Sequence[str] | None = None, dropout: float = 0.1, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels, self.label_names = resolve_labels(num_labels, label_names, minimum=2)
        self.dropout = dropout
        self.head_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="head_dropout")
        # float32 logits under mixed precision: the softmax stays accurate.
        self.logits = keras.layers.Dense(self.num_labels, dtype="float32", name="logits")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        self.logits.build((None, None, hidden_size))

    def settings(self) -> dict:
        return {"num_labels": self.num_labels, "label_names": self.label_names, "dropout": self.dropout}

    def call(self, inputs, training=None):
        """Logits [B, L, num_labels] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        hidden = self.encoder(self.model_inputs(inputs), training=training)
        return self.logits(self.head_dropout(hidden, training=training))

    def compile(self, optimizer="adam", loss="auto", **kwargs):
        """Compiles with cross-entropy averaged over the labelled tokens (labels != `IGNORED_LABEL`)."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORED_LABEL)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)
