"""`MaskedLMPretrainer`: BERT's masked-LM objective on ELECTRA's encoder, the paper's baseline.

It shares everything with `ElectraPretrainer` but the objective (`MaskingPretrainer`: the in-graph masking,
seeds, steps, accumulation, metrics and saved settings) and its one tower is an `ElectraGenerator` of the
discriminator's full size: an encoder plus the masked-LM head tied to its word embeddings. Fine-tuning starts
from that encoder as from ELECTRA's discriminator (`load_encoder`), so the two objectives compare on equal terms.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel
from electra_tf.models.builders import build_encoder
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.masking import gather_positions
from electra_tf.models.pretrainer import MaskedBatch, MaskingPretrainer


@dataclasses.dataclass(frozen=True)
class MaskedLMOutput:
    """One pass of the masked-LM objective (B batch, N mask slots, V vocabulary)."""

    positions: tf.Tensor  # [B, N] selected positions
    weights: tf.Tensor  # [B, N] 1 for used slots
    targets: tf.Tensor  # [B, N] original ids at the positions
    mlm_logits: tf.Tensor  # [B, N, V] float32


@registry.register
class MaskedLMPretrainer(MaskingPretrainer):
    """Masked-LM pre-training (Devlin et al. 2019) of an encoder of `config`'s size: predict the original token
    at the masked slots, loss the mean cross-entropy over them.

    The corruption is the config's: BERT's 80% [MASK] / 10% random / 10% kept is `bert_masking(config)` (what
    `electra-tf pretrain --objective mlm` uses); whole-word masking works as for ELECTRA.

    Args:
        config: `ElectraConfig`. The encoder's architecture and the masking settings (generator fields unused).
        seed, grad_accum_steps, **kwargs: see `MaskingPretrainer`.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig, bert_masking
    from electra_tf.training.optimization import ElectraAdamW
    pretrainer = MaskedLMPretrainer(bert_masking(ElectraConfig.from_preset("tiny", vocab_size=120)))
    pretrainer.compile(optimizer=ElectraAdamW(1e-3))
    token_ids = np.random.randint(104, 120, size=(8, 16)).astype("int32")
    batch = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
             "padding_mask": np.ones_like(token_ids)}
    assert "mlm_accuracy" in pretrainer.fit(batch, batch_size=4, epochs=1, verbose=0).history
    ```

    References:
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    TASK_TYPE = "masked_lm_pretraining"

    def __init__(self, config: ElectraConfig, seed: int = 0, grad_accum_steps: int = 1, **kwargs):
        super().__init__(config, seed=seed, grad_accum_steps=grad_accum_steps, **kwargs)
        self.masked_lm = ElectraGenerator(config, encoder=build_encoder(config, pack_in_training=False),
                                          dtype=self.dtype_policy, name="masked_lm")  # full sequences
        self.build(ANY_LENGTH_INPUTS)

    @property
    def encoder(self) -> ElectraEncoder:
        return self.masked_lm.encoder

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.mlm_loss_tracker, self.mlm_accuracy, self.real_tokens]

    def standalone_tower(self, name: str) -> EncoderModel:
        """The `masked_lm` (an `ElectraGenerator` of full size)."""
        return getattr(self, name)

    def forward(self, batch: MaskedBatch, training: bool = False) -> MaskedLMOutput:
        """Masked-LM logits at the selected slots."""
        logits = self.masked_lm(dict(batch.inputs, token_ids=batch.masked_ids), positions=batch.positions,
                                training=training)
        return MaskedLMOutput(positions=batch.positions, weights=batch.weights,
                              targets=gather_positions(batch.inputs["token_ids"], batch.positions),
                              mlm_logits=tf.cast(logits, tf.float32))

    def losses_of(self, output: MaskedLMOutput,
                  totals: tuple[tf.Tensor, tf.Tensor] | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(per-slot MLM loss [B, N], this replica's share of the mean over the global batch's slots)."""
        return self.masked_lm_loss(output.targets, output.mlm_logits, output.weights,
                                   None if totals is None else totals[0])

    def update_token_metrics(self, output: MaskedLMOutput, mlm_losses: tf.Tensor) -> None:
        self.update_mlm_metrics(mlm_losses, output.mlm_logits, output.targets, output.weights)
