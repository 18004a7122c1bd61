"""`ElectraClassifier`: sequence classification and regression on the discriminator's [CLS] state."""

from __future__ import annotations

from typing import Sequence

import keras

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.activations import gelu
from electra_tf.layers.dropout import PhiloxDropout
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel
from electra_tf.models.labels import resolve_labels

HEADS = ("original", "huggingface")


@registry.register
class ElectraClassifier(EncoderModel):
    """An ELECTRA encoder with a classification (or, with `num_labels=1`, regression) head.

    The original head reads the final [CLS] hidden state directly (ELECTRA has no pooler), applies dropout
    and one Dense layer (google-research/electra `classification_tasks.py`); the encoder's last block computes
    that state alone (`first_token_only`: ELECTRA-Small's forward pass 7% less work). `head="huggingface"` is the
    two-layer head of Hugging Face's `ElectraForSequenceClassification` (dropout, Dense(H), GELU, dropout,
    Dense), so converted Hugging Face classifiers load with their weights.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        num_labels: int or None. Classes; 1 for regression (STS-B). Defaults to the number of `label_names`.
        label_names: sequence of str or None. The name of each class, saved with the model and served.
        dropout: float. Dropout before each Dense of the head. Defaults to `0.1`.
        head: str. `"original"` or `"huggingface"`. Defaults to `"original"`.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    classifier = ElectraClassifier(config, label_names=["negative", "neutral", "positive"])
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(classifier(inputs).shape) == (1, 3)
    ```
    """

    TASK_TYPE = "classification"

    def __init__(self, config: ElectraConfig, num_labels: int | None = None, *,
                 label_names: Sequence[str] | None = None, dropout: float = 0.1, head: str = "original", **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels, self.label_names = resolve_labels(num_labels, label_names, minimum=1)
        if head not in HEADS:
            raise ValueError(f"Unknown head {head!r}; choose one of {HEADS}.")
        self.dropout = dropout
        self.head = head
        self.head_dropout = PhiloxDropout(dropout, dtype=self.dtype_policy, name="head_dropout")
        self.dense = None
        if head == "huggingface":
            self.dense = keras.layers.Dense(self.encoder.hidden_size, activation=gelu, dtype=self.dtype_policy,
                                            name="head_dense")
        # float32 logits under mixed precision: the softmax / MSE stays accurate.
        self.logits = keras.layers.Dense(self.num_labels, dtype="float32", name="logits")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        if self.dense is not None:
            self.dense.build((None, hidden_size))
        self.logits.build((None, hidden_size))

    def settings(self) -> dict:
        return {"num_labels": self.num_labels, "label_names": self.label_names, "dropout": self.dropout,
                "head": self.head}

    def call(self, inputs, training=None):
        """Logits [batch_size, num_labels] for a dict of `token_ids`, `segment_ids`, `padding_mask`, or for
        strings (one batch, or a pair of batches) when the model has a preprocessor."""
        x = self.encoder(self.model_inputs(inputs), training=training, first_token_only=True)  # [CLS]
        x = self.head_dropout(x, training=training)
        if self.dense is not None:
            x = self.head_dropout(self.dense(x), training=training)
        return self.logits(x)

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """Compiles with the task's loss: MSE for regression, sparse cross-entropy on logits otherwise."""
        regression = self.num_labels == 1
        if loss == "auto":
            loss = (keras.losses.MeanSquaredError() if regression
                    else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        if metrics == "auto":
            metrics = [] if regression else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
