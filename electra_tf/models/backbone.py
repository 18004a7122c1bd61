"""`ElectraBackbone`: the bare encoder as a model, for its hidden states (Hugging Face's `ElectraModel`)."""

from __future__ import annotations

import os

import keras

from electra_tf.config import ElectraConfig
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models import base
from electra_tf.text.tokenizer import WordPieceTokenizer


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraBackbone(base.EncoderModel):
    """An encoder without a head: the final hidden state of every token.

    What a headless checkpoint (Hugging Face `ElectraModel`, a keras-hub backbone) converts to, and a
    feature extractor. Task models start from its directory as from any other (`base.load_encoder`).

    Args:
        encoder: `ElectraEncoder`.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    from electra_tf.models.base import build_embeddings, build_encoder
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    backbone = ElectraBackbone(build_encoder(config, build_embeddings(config)))
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(backbone(inputs).shape) == (1, 4, config.hidden_size)
    ```
    """

    TASK_TYPE = "backbone"

    def __init__(self, encoder: ElectraEncoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.build(base.ANY_LENGTH_INPUTS)

    def build(self, inputs_shape):
        if not self.encoder.built:  # a deserialized encoder arrives built
            self.encoder.build(inputs_shape)
        self.built = True

    def call(self, inputs, training=None):
        """Hidden states [B, L, H] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        return self.encoder(inputs, training=training)

    def save_pretrained(self, directory: str | os.PathLike, config: ElectraConfig,
                        tokenizer: WordPieceTokenizer | None = None) -> None:
        """Writes a backbone model directory: config, weights, tokenizer, `task.json`."""
        base.save_model_directory(self, config, directory, tokenizer, {"task_type": self.TASK_TYPE})

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "ElectraBackbone":
        """The encoder of any model directory (see `base.load_encoder`) as a backbone."""
        if base.read_task_info(directory)["task_type"] != cls.TASK_TYPE:
            return cls(base.load_encoder(directory))
        config = base.load_config(directory)
        backbone = cls(base.build_encoder(config, base.build_embeddings(config)))
        base.load_weights(backbone, directory)
        return backbone
