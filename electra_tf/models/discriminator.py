"""`ElectraDiscriminator`: the encoder ELECTRA keeps, with its replaced-token-detection head."""

from __future__ import annotations

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.heads import DiscriminatorHead
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel, pretrainer_tower


@registry.register
class ElectraDiscriminator(EncoderModel):
    """An encoder plus the RTD head: one "was this token replaced?" logit per token.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        **kwargs: `encoder` (the pre-trainer's shares its embeddings with the generator), `preprocessor` (see
            `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    discriminator = ElectraDiscriminator(config)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(discriminator(inputs).shape) == (1, 4)
    ```
    """

    TASK_TYPE = "discriminator"

    def __init__(self, config: ElectraConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.head = DiscriminatorHead(
            hidden_size=self.encoder.hidden_size, initializer_range=self.encoder.initializer_range,
            dtype=self.dtype_policy, name="discriminator_predictions")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        self.head.build((None, None, hidden_size))

    def call(self, inputs, training=None):
        """RTD logits [B, L] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        return self.head(self.encoder(self.model_inputs(inputs), training=training))

    @classmethod
    def from_other_directory(cls, directory, task_type, **overrides) -> "ElectraDiscriminator":
        """A pre-trainer's discriminator."""
        return pretrainer_tower(directory, task_type, "discriminator")
