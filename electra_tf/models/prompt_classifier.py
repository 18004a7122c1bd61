"""`ElectraPromptClassifier`: zero-shot and few-shot classification with the discriminator's own RTD head."""

from __future__ import annotations

import os
from typing import Sequence

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.inputs import INPUT_KEYS
from electra_tf.models import registry
from electra_tf.models.base import load_encoder
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.labels import resolve_labels
from electra_tf.models.registry import model_class
from electra_tf.text.prompting import (DEFAULT_LABEL_WORDS, DEFAULT_TEMPLATE, WORD_MASK, PromptPreprocessor)
from electra_tf.text.tokenizer import load_tokenizer


def label_scores(rtd_logits: tf.Tensor, word_mask: tf.Tensor) -> tf.Tensor:
    """How original each candidate's label word looks: minus the RTD logit, averaged over the word's tokens.

    Args:
        rtd_logits: float [..., length], "replaced" logits of each candidate's tokens.
        word_mask: float [..., length], 1 on the label word's tokens.

    Returns:
        float [...]: the candidates' scores (higher: the word fits).
    """
    rtd_logits = tf.cast(rtd_logits, tf.float32)
    return -tf.reduce_sum(rtd_logits * word_mask, axis=-1) / tf.reduce_sum(word_mask, axis=-1)


@registry.register
class ElectraPromptClassifier(ElectraDiscriminator):
    """A classifier without new weights: the discriminator (its encoder and RTD head) scores each candidate label word
    in a template filled with the text, and the label whose word looks most original wins (Xia et al., EMNLP 2022,
    "Prompting ELECTRA"). Zero-shot it is the pre-trained discriminator as it is; few-shot, the same scores are
    trained with cross-entropy over the candidates (`compile`'s default), still without a new head.

    Its inputs are a `PromptPreprocessor`'s ([batch, labels, length] candidates with their word masks), or raw
    strings; its outputs are the labels' scores [batch, labels], logits for a softmax over the labels.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        label_names: sequence of str. The labels, in the order of the preprocessor's label words.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.
    """

    TASK_TYPE = "prompt_classification"
    PREPROCESSOR_CLASS = PromptPreprocessor

    def __init__(self, config: ElectraConfig, label_names: Sequence[str], **kwargs):
        self.num_labels, self.label_names = resolve_labels(None, label_names, minimum=2)
        super().__init__(config, **kwargs)

    def settings(self) -> dict:
        return {"label_names": self.label_names}

    def call(self, inputs, training=None):
        """Label scores [batch, labels] for candidates [batch, labels, length] (or raw strings)."""
        inputs = self.model_inputs(inputs)
        shape = tf.shape(inputs["token_ids"])
        candidates = {name: tf.reshape(inputs[name], [-1, shape[-1]]) for name in INPUT_KEYS}
        rtd_logits = tf.reshape(self.head(self.encoder(candidates, training=training)), shape)
        return label_scores(rtd_logits, inputs[WORD_MASK])

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """Compiles with cross-entropy over the labels' scores (Xia et al.'s few-shot objective) and accuracy."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    @property
    def _default_save_signature(self):
        # Keras would trace one on the inputs the encoder was built with, which lack the word mask; the export's
        # serving module (`electra_tf.export.serving`) has the signatures.
        return None

    @classmethod
    def from_other_directory(cls, directory, task_type, **overrides) -> "ElectraPromptClassifier":
        """A discriminator's (or a pre-trainer's) encoder and RTD head, taken as they are."""
        discriminator = model_class("discriminator").from_pretrained(directory)
        model = cls(discriminator.config, encoder=load_encoder(directory), **overrides)
        model.head.set_weights(discriminator.head.get_weights())
        return model


def prompt_classifier(model_dir: str | os.PathLike, template: str = DEFAULT_TEMPLATE,
                      label_words: Sequence[str] = DEFAULT_LABEL_WORDS, label_names: Sequence[str] | None = None,
                      sequence_length: int = 128) -> ElectraPromptClassifier:
    """A prompt classifier from a pre-trained (or converted) discriminator's directory, with its template and
    label words; the label names default to the words."""
    preprocessor = PromptPreprocessor(load_tokenizer(model_dir), template, label_words, sequence_length)
    return ElectraPromptClassifier.from_pretrained(model_dir, preprocessor=preprocessor,
                                                   label_names=list(label_names or label_words))
