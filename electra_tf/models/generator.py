"""`ElectraGenerator`: the small masked-LM network whose samples corrupt the discriminator's input."""

from __future__ import annotations

import os

import keras

from electra_tf.config import ElectraConfig
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.layers.heads import GeneratorHead
from electra_tf.models import base, masking
from electra_tf.models.base import EncoderModel
from electra_tf.text.tokenizer import WordPieceTokenizer


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraGenerator(EncoderModel):
    """An encoder plus a masked-LM head tied to the encoder's word embeddings.

    Args:
        encoder: `ElectraEncoder`. Usually of generator size, with embeddings shared with the
            discriminator.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    from electra_tf.models.base import build_embeddings, build_encoder
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    generator = ElectraGenerator(build_encoder(config, build_embeddings(config)))
    inputs = {"token_ids": np.array([[101, 5, 103, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    logits = generator(inputs, positions=np.array([[2]]))
    assert tuple(logits.shape) == (1, 1, 120)
    ```
    """

    TASK_TYPE = "generator"

    def __init__(self, encoder: ElectraEncoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        embeddings = encoder.embeddings
        self.head = GeneratorHead(
            embedding_size=embeddings.embedding_size, vocab_size=embeddings.vocab_size,
            layer_norm_epsilon=encoder.layer_norm_epsilon, initializer_range=encoder.initializer_range,
            dtype=self.dtype_policy, name="generator_predictions")

    def build(self, inputs_shape, positions_shape=None):
        if not self.encoder.built:  # a deserialized encoder arrives built
            self.encoder.build(inputs_shape)
        self.head.build((None, None, self.encoder.hidden_size))
        self.built = True

    def call(self, inputs, positions=None, training=None):
        """Masked-LM logits.

        Args:
            inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L].
            positions: optional [B, N] int positions. The head runs only there (B x N x V logits, not
                B x L x V), as the original `gather_positions` before the softmax.
            training: bool.

        Returns:
            [B, N, V] logits, or [B, L, V] when `positions` is None.
        """
        hidden = self.encoder(inputs, training=training)
        if positions is not None:
            hidden = masking.gather_positions(hidden, positions)
        return self.head(hidden, self.encoder.embeddings.word_embeddings)

    # --- The model directory ---
    def save_pretrained(self, directory: str | os.PathLike, config: ElectraConfig,
                        tokenizer: WordPieceTokenizer | None = None) -> None:
        """Writes a generator-only model directory; `config` is the generator's own size (e.g.
        `generator_config(discriminator_config)`)."""
        base.save_model_directory(self, config, directory, tokenizer, {"task_type": self.TASK_TYPE})

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> "ElectraGenerator":
        """A generator directory written by `save_pretrained`, or a pre-trainer's generator."""
        return base.load_tower(cls, directory, "generator")
