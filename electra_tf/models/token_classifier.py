"""`ElectraTokenClassifier`: one label per token (NER, chunking, part-of-speech tagging)."""

from __future__ import annotations

import os
import pathlib
from typing import Sequence

import keras

from electra_tf.config import ElectraConfig
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models import base
from electra_tf.text.tokenizer import WordPieceTokenizer

# The label of tokens the loss skips: word-piece continuations, [CLS]/[SEP], padding (Hugging Face's value).
IGNORED_LABEL = -100


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTokenClassifier(base.EncoderModel):
    """An ELECTRA encoder with a per-token classification head: dropout, then one Dense layer on every
    token's final hidden state.

    This is both the original tagging head (google-research/electra `tagging_tasks.py` applies one Dense to
    the first word-piece of each word) and Hugging Face's `ElectraForTokenClassification` (dropout + Dense on
    every token): which tokens count is decided by the labels, where `IGNORED_LABEL` (-100) marks the
    tokens the loss skips, e.g. every word-piece but a word's first.

    Args:
        encoder: `ElectraEncoder`. Usually a pre-trained discriminator's (see `from_pretrained`).
        num_labels: int. Tag classes.
        dropout: float. Dropout before the Dense layer. Defaults to `0.1`.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    from electra_tf.models.base import build_embeddings, build_encoder
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    tagger = ElectraTokenClassifier(build_encoder(config, build_embeddings(config)), num_labels=5)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(tagger(inputs).shape) == (1, 4, 5)
    tagger.compile(optimizer="adam")
    labels = np.array([[IGNORED_LABEL, 3, 0, IGNORED_LABEL]])
    tagger.fit(inputs, labels, epochs=1, verbose=0)
    ```
    """

    TASK_TYPE = "token_classification"

    def __init__(self, encoder: ElectraEncoder, num_labels: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if num_labels < 2:
            raise ValueError(f"num_labels must be >= 2, got {num_labels}.")
        self.encoder = encoder
        self.num_labels = num_labels
        self.dropout = dropout
        self.head_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="head_dropout")
        # float32 logits under mixed precision: the softmax stays accurate.
        self.logits = keras.layers.Dense(num_labels, dtype="float32", name="logits")
        self.build(base.ANY_LENGTH_INPUTS)

    def build(self, inputs_shape):
        if not self.encoder.built:  # a deserialized encoder arrives built
            self.encoder.build(inputs_shape)
        self.logits.build((None, None, self.encoder.hidden_size))
        self.built = True

    def call(self, inputs, training=None):
        """Logits [B, L, num_labels] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        hidden = self.encoder(inputs, training=training)
        return self.logits(self.head_dropout(hidden, training=training))

    def compile(self, optimizer="adam", loss="auto", **kwargs):
        """Compiles with cross-entropy averaged over the labelled tokens (labels != `IGNORED_LABEL`)."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORED_LABEL)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    # --- The model directory ---
    def save_pretrained(self, directory: str | os.PathLike, config: ElectraConfig,
                        tokenizer: WordPieceTokenizer | None = None, label_names: Sequence[str] | None = None,
                        task: str | None = None) -> None:
        """Writes a fine-tuned model directory: config, weights, tokenizer and `task.json` (task, label names)."""
        base.save_model_directory(self, config, directory, tokenizer, base.labelled_task_info(self, task, label_names))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, num_labels: int | None = None,
                        **kwargs) -> "ElectraTokenClassifier":
        """A fine-tuned token-classifier directory whole, or any other model directory's encoder (see
        `base.load_encoder`) with a new head of `num_labels`."""
        directory = pathlib.Path(directory)
        task_info = base.read_task_info(directory)
        if task_info["task_type"] == cls.TASK_TYPE:
            if num_labels not in (None, task_info["num_labels"]):
                raise ValueError(f"{directory} tags with {task_info['num_labels']} labels, not {num_labels}.")
            config = base.load_config(directory)
            tagger = cls(base.build_encoder(config, base.build_embeddings(config)), task_info["num_labels"], **kwargs)
            base.load_weights(tagger, directory)
            return tagger
        if num_labels is None:
            raise ValueError(f"{directory} is not a fine-tuned token classifier: give num_labels for the new head.")
        return cls(base.load_encoder(directory), num_labels, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"num_labels": self.num_labels, "dropout": self.dropout})
        return config
