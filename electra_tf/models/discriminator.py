"""`ElectraDiscriminator`: the encoder ELECTRA keeps, with its replaced-token-detection head."""

from __future__ import annotations

import os

import keras

from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.layers.heads import DiscriminatorHead
from electra_tf.models import base
from electra_tf.models.base import EncoderModel


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraDiscriminator(EncoderModel):
    """An encoder plus the RTD head: one "was this token replaced?" logit per token.

    Args:
        encoder: `ElectraEncoder`.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    from electra_tf.models.base import build_embeddings, build_encoder
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    discriminator = ElectraDiscriminator(build_encoder(config, build_embeddings(config)))
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(discriminator(inputs).shape) == (1, 4)
    ```
    """

    TASK_TYPE = "discriminator"

    def __init__(self, encoder: ElectraEncoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = DiscriminatorHead(
            hidden_size=encoder.hidden_size, initializer_range=encoder.initializer_range,
            dtype=self.dtype_policy, name="discriminator_predictions")

    def build(self, inputs_shape):
        if not self.encoder.built:  # a deserialized encoder arrives built
            self.encoder.build(inputs_shape)
        self.head.build((None, None, self.encoder.hidden_size))
        self.built = True

    def call(self, inputs, training=None):
        """RTD logits [B, L] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        return self.head(self.encoder(inputs, training=training))

    # --- The model directory ---
    def save_pretrained(self, directory: str | os.PathLike, config, tokenizer=None) -> None:
        """Writes a discriminator-only model directory (e.g. a converted checkpoint): config, weights, tokenizer."""
        base.save_model_directory(self, config, directory, tokenizer, {"task_type": self.TASK_TYPE})

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "ElectraDiscriminator":
        """A discriminator directory written by `save_pretrained`, or a pre-trainer's discriminator."""
        return base.load_tower(cls, directory, "discriminator")
