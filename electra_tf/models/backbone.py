"""`ElectraBackbone`: the bare encoder as a model, for its hidden states (Hugging Face's `ElectraModel`)."""

from __future__ import annotations

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel


@registry.register
class ElectraBackbone(EncoderModel):
    """An encoder without a head: the final hidden state of every token.

    What a headless checkpoint (Hugging Face `ElectraModel`, a keras-hub backbone) converts to, and a
    feature extractor. Task models start from its directory as from any other (`base.load_encoder`).

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    backbone = ElectraBackbone(config)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(backbone(inputs).shape) == (1, 4, config.hidden_size)
    ```
    """

    TASK_TYPE = "backbone"

    def __init__(self, config: ElectraConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.build(ANY_LENGTH_INPUTS)

    def call(self, inputs, training=None):
        """Hidden states [B, L, H] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        return self.encoder(self.model_inputs(inputs), training=training)
