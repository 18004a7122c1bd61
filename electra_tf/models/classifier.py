"""`ElectraClassifier`: sequence classification and regression on the discriminator's [CLS] state."""

from __future__ import annotations

import os
import pathlib
from typing import Sequence

import keras

from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models import base
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.text.tokenizer import WordPieceTokenizer

HEADS = ("original", "huggingface")


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraClassifier(base.EncoderModel):
    """An ELECTRA encoder with a classification (or, with `num_labels=1`, regression) head.

    The original head reads the final [CLS] hidden state directly (ELECTRA has no pooler), applies dropout
    and one Dense layer (google-research/electra `classification_tasks.py`). `head="huggingface"` is the
    two-layer head of Hugging Face's `ElectraForSequenceClassification` (dropout, Dense(H), GELU, dropout,
    Dense), so converted Hugging Face classifiers load with their weights.

    Args:
        encoder: `ElectraEncoder`. Usually a pre-trained discriminator's (see `from_pretrained`).
        num_labels: int. Classes; 1 for regression (STS-B).
        dropout: float. Dropout before each Dense of the head. Defaults to `0.1`.
        head: str. `"original"` or `"huggingface"`. Defaults to `"original"`.
        preprocessor: `ElectraPreprocessor` or None. When set, the model also takes raw strings (or a pair of
            string batches) and tokenizes them in the graph; a dict of ids still bypasses it. Defaults to `None`.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    from electra_tf.models.base import build_embeddings, build_encoder
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    classifier = ElectraClassifier(build_encoder(config, build_embeddings(config)), num_labels=3)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(classifier(inputs).shape) == (1, 3)
    ```
    """

    TASK_TYPE = "classification"

    def __init__(self, encoder: ElectraEncoder, num_labels: int, dropout: float = 0.1, head: str = "original",
                 preprocessor: ElectraPreprocessor | None = None, **kwargs):
        super().__init__(**kwargs)
        if num_labels < 1:
            raise ValueError(f"num_labels must be >= 1 (1 for regression), got {num_labels}.")
        if head not in HEADS:
            raise ValueError(f"Unknown head {head!r}; choose one of {HEADS}.")
        self.encoder = encoder
        self.num_labels = num_labels
        self.dropout = dropout
        self.head = head
        self.preprocessor = preprocessor
        # As keras-hub's tasks: let Python strings through `__call__` to the preprocessor unconverted.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.head_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="head_dropout")
        self.dense = None
        if head == "huggingface":
            self.dense = keras.layers.Dense(encoder.hidden_size, activation="gelu", dtype=self.dtype_policy,
                                            name="head_dense")
        # float32 logits under mixed precision: the softmax / MSE stays accurate.
        self.logits = keras.layers.Dense(num_labels, dtype="float32", name="logits")
        self.build(base.ANY_LENGTH_INPUTS)

    def build(self, inputs_shape):
        if not self.encoder.built:  # a deserialized encoder arrives built
            self.encoder.build(inputs_shape)
        hidden_shape = (None, self.encoder.hidden_size)
        if self.dense is not None:
            self.dense.build(hidden_shape)
        self.logits.build(hidden_shape)
        self.built = True

    def call(self, inputs, training=None):
        """Logits [batch_size, num_labels] for a dict of `token_ids`, `segment_ids`, `padding_mask`, or for
        strings (one batch, or a pair of batches) when the model has a preprocessor."""
        if not isinstance(inputs, dict):
            if self.preprocessor is None:
                raise ValueError("This classifier has no preprocessor: give token ids, or build it with one.")
            inputs = self.preprocessor(inputs)
        x = self.encoder(inputs, training=training)[:, 0, :]  # [CLS]
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

    # --- The model directory ---
    def save_pretrained(self, directory: str | os.PathLike, config, tokenizer: WordPieceTokenizer | None = None,
                        label_names: Sequence[str] | None = None, task: str | None = None,
                        text_pair: bool = False) -> None:
        """Writes a fine-tuned model directory: config, weights, tokenizer and `task.json` (the task's name,
        label names, and whether an input is a text pair)."""
        task_info = {**base.labelled_task_info(self, task, label_names), "head": self.head, "text_pair": text_pair}
        base.save_model_directory(self, config, directory, tokenizer, task_info)

    def export_serving(self, export_dir: str | os.PathLike, label_names: Sequence[str] | None = None,
                       text_pair: bool = False, version: int | None = None) -> pathlib.Path:
        """Exports a TF Serving SavedModel taking raw text to `export_dir/<version>/` (see
        `electra_tf.export.serving`); returns its path."""
        from electra_tf.export.serving import export_serving  # the export module builds on this one

        return export_serving(self, export_dir, list(label_names) if label_names is not None else None,
                              text_pair, version)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, num_labels: int | None = None,
                        head: str = "original", max_length: int = 128, **kwargs) -> "ElectraClassifier":
        """A classifier from a model directory, with a preprocessor of `max_length` tokens on its vocabulary.

        A fine-tuned classifier directory loads whole. Any other model directory gives its encoder (a
        pre-trainer's discriminator's; see `base.load_encoder`) with a new head of `num_labels`.
        """
        directory = pathlib.Path(directory)
        config = base.load_config(directory)
        if (directory / base.VOCAB_FILE).is_file() and "preprocessor" not in kwargs:
            tokenizer = base.load_tokenizer(directory)
            base.check_vocabulary(tokenizer, config, str(directory))
            kwargs["preprocessor"] = ElectraPreprocessor(tokenizer, max_length)
        task_info = base.read_task_info(directory)
        if task_info["task_type"] == cls.TASK_TYPE:
            if num_labels not in (None, task_info["num_labels"]):
                raise ValueError(f"{directory} classifies into {task_info['num_labels']} labels, not {num_labels}.")
            classifier = cls(base.build_encoder(config, base.build_embeddings(config)), task_info["num_labels"],
                             head=task_info["head"], **kwargs)
            base.load_weights(classifier, directory)
            return classifier
        if num_labels is None:
            raise ValueError(f"{directory} is not a fine-tuned classifier: give num_labels for the new head.")
        return cls(base.load_encoder(directory), num_labels, head=head, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"num_labels": self.num_labels, "dropout": self.dropout, "head": self.head,
                       "preprocessor": None if self.preprocessor is None else keras.layers.serialize(self.preprocessor)})
        return config

    @classmethod
    def from_config(cls, config):
        preprocessor = config.get("preprocessor")
        return super().from_config(
            dict(config, preprocessor=None if preprocessor is None else keras.layers.deserialize(preprocessor)))
