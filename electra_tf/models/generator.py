"""`ElectraGenerator`: the small masked-LM network whose samples corrupt the discriminator's input."""

from __future__ import annotations

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.heads import GeneratorHead
from electra_tf.models import masking, registry
from electra_tf.models.base import EncoderModel, pretrainer_tower


@registry.register
class ElectraGenerator(EncoderModel):
    """An encoder plus a masked-LM head tied to the encoder's word embeddings.

    Args:
        config: `ElectraConfig`. The generator's own architecture (e.g. `generator_config(discriminator_config)`).
        **kwargs: `encoder` (the pre-trainer's shares its embeddings with the discriminator), `preprocessor`
            (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    generator = ElectraGenerator(config)
    inputs = {"token_ids": np.array([[101, 5, 103, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    logits = generator(inputs, positions=np.array([[2]]))
    assert tuple(logits.shape) == (1, 1, 120)
    ```
    """

    TASK_TYPE = "generator"

    def __init__(self, config: ElectraConfig, **kwargs):
        super().__init__(config, **kwargs)
        embeddings = self.encoder.embeddings
        self.head = GeneratorHead(
            embedding_size=embeddings.embedding_size, vocab_size=embeddings.vocab_size,
            layer_norm_epsilon=self.encoder.layer_norm_epsilon, initializer_range=self.encoder.initializer_range,
            dtype=self.dtype_policy, name="generator_predictions")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        self.head.build((None, None, hidden_size))

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
        hidden = self.encoder(self.model_inputs(inputs), training=training)
        if positions is not None:
            hidden = masking.gather_positions(hidden, positions)
        return self.head(hidden, self.encoder.embeddings.word_embeddings)

    @classmethod
    def from_other_directory(cls, directory, task_type, **overrides) -> "ElectraGenerator":
        """A pre-trainer's generator."""
        return pretrainer_tower(directory, task_type, "generator")
