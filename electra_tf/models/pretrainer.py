"""`ElectraPretrainer`: generator + discriminator trained jointly on replaced-token detection, on the
`MaskingPretrainer` steps it shares with the masked-LM baseline (`electra_tf.models.masked_lm`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig, generator_config
from electra_tf.inputs import ANY_LENGTH_INPUTS, INPUT_KEYS, WORD_START
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models import masking, registry
from electra_tf.models.accumulation import accumulated_gradients, split_batch
from electra_tf.layers.embeddings import DisentangledEmbeddings
from electra_tf.models.base import EncoderModel, PretrainedModel
from electra_tf.models.builders import build_embeddings, build_encoder
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.losses import global_sum, replica_share_of_mean


@dataclasses.dataclass(frozen=True)
class PretrainingOutput:
    """Everything one pass of the objective computes (B batch, L length, N mask slots, V vocabulary)."""

    positions: tf.Tensor  # [B, N] selected positions
    weights: tf.Tensor  # [B, N] 1 for used slots
    targets: tf.Tensor  # [B, N] original ids at the positions
    mlm_logits: tf.Tensor  # [B, N, V] generator logits, float32
    sampled_ids: tf.Tensor  # [B, N] generator samples
    corrupted_ids: tf.Tensor  # [B, L] the discriminator's input
    rtd_labels: tf.Tensor  # [B, L] 1 where the discriminator's input differs from the original
    rtd_logits: tf.Tensor  # [B, L] discriminator logits, float32
    padding_mask: tf.Tensor  # [B, L] float32, the RTD loss weights


@dataclasses.dataclass(frozen=True)
class MaskedBatch:
    """A batch with its mask slots chosen and filled: the generator's input."""

    inputs: dict[str, tf.Tensor]  # original token_ids (int32), segment_ids, padding_mask, each [B, L]
    positions: tf.Tensor  # [B, N]
    weights: tf.Tensor  # [B, N]
    masked_ids: tf.Tensor  # [B, L]
    sample_seed: tf.Tensor  # [2] seed of the generator's sampling

    def split(self, count: int) -> list["MaskedBatch"]:
        """`count` equal micro-batches along the batch axis, each with its own sampling seed."""
        if count == 1:
            return [self]
        pieces = split_batch((self.inputs, self.positions, self.weights, self.masked_ids), count)
        return [MaskedBatch(inputs=inputs, positions=positions, weights=weights, masked_ids=masked_ids,
                            sample_seed=tf.random.experimental.stateless_fold_in(self.sample_seed, i))
                for i, (inputs, positions, weights, masked_ids) in enumerate(pieces)]


class MaskingPretrainer(PretrainedModel):
    """What every pre-training objective over masked slots shares: the in-graph masking (`mask`, seeded by step,
    batch and replica), the train/test steps with gradient accumulation and global token-weighted losses, the
    loss and throughput metrics, and the saved settings. A subclass gives its towers, `forward` (a
    `MaskedBatch` -> its output), `losses_of` (per-token losses..., this replica's share of the loss) and
    `update_token_metrics`.

    Args:
        config: `ElectraConfig`. The architecture and the masking settings.
        seed: int. Seed of the masking (and sampling) streams. Defaults to `0`.
        grad_accum_steps: int. Split each batch into this many micro-batches and sum their gradients
            before one update: the same update as the whole batch at a fraction of the activation memory.
            Done inside the step (not by the optimizer), so it works under every strategy and XLA.
            Defaults to `1`.
        **kwargs: other keyword arguments passed to `keras.Model`.
    """

    def __init__(self, config: ElectraConfig, seed: int = 0, grad_accum_steps: int = 1, **kwargs):
        super().__init__(**kwargs)
        if config.mask_token_id is None:
            raise ValueError("Pre-training needs config.mask_token_id, the id of [MASK] in the vocabulary.")
        if grad_accum_steps < 1:
            raise ValueError(f"grad_accum_steps must be >= 1, got {grad_accum_steps}.")
        self.config = config
        self.seed = seed
        self.grad_accum_steps = grad_accum_steps
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        self.real_tokens = keras.metrics.Sum(name="real_tokens")  # padding excluded, for throughput

    def build(self, inputs_shape):
        self.built = True  # the towers build themselves

    @property
    def encoder(self) -> ElectraEncoder:
        """The encoder fine-tuning starts from."""
        raise NotImplementedError

    def forward(self, batch: MaskedBatch, training: bool = False):
        """The objective's output on a masked batch."""
        raise NotImplementedError

    def losses_of(self, output, totals: tuple[tf.Tensor, tf.Tensor] | None = None) -> tuple[tf.Tensor, ...]:
        """(per-token losses..., this replica's share of the total loss).

        `totals` are the global numbers of mask slots and real tokens when `output` covers a micro-batch.
        """
        raise NotImplementedError

    def update_token_metrics(self, output, *token_losses: tf.Tensor) -> None:
        """Updates the objective's metrics with one (micro-)batch."""
        raise NotImplementedError

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False, step: Any = 0):
        """Masks a batch and runs the objective on it.

        Args:
            inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L] with a fixed L; with
                `word_start` (1 where a word begins), whole words are masked.
            training: bool. Dropout on or off.
            step: int scalar mixed into the random seed, so each training step masks afresh.
        """
        return self.forward(self.mask(inputs, step), training=training)

    def mask(self, inputs: dict[str, tf.Tensor], step: Any = 0) -> MaskedBatch:
        """Chooses the N slots of each example and corrupts them as the config says (ELECTRA: 85% [MASK], 15%
        kept; BERT: 80% [MASK], 10% random, 10% kept)."""
        config = self.config
        token_ids = tf.cast(inputs["token_ids"], tf.int32)
        sequence_length = token_ids.shape[1]
        if sequence_length is None:
            raise ValueError("Pre-training batches need a fixed sequence length: pad every batch to seq_len.")
        mask_seed, replace_seed, sample_seed = tf.unstack(
            tf.random.experimental.stateless_split(self._step_seed(token_ids, step), 3))
        positions, weights = masking.select_positions(
            token_ids, inputs["padding_mask"], mask_prob=config.mask_prob,
            max_predictions=config.max_predictions(sequence_length),
            special_token_ids=config.special_token_ids(), seed=mask_seed,
            with_replacement=config.sample_with_replacement, word_starts=inputs.get(WORD_START))
        inputs = {key: inputs[key] for key in INPUT_KEYS}  # the towers read these
        masked_ids = masking.apply_masks(
            token_ids, positions, weights, mask_token_id=config.mask_token_id,
            mask_token_rate=config.mask_token_rate, random_token_rate=config.random_token_rate,
            vocab_size=config.vocab_size, seed=replace_seed)
        return MaskedBatch(inputs=dict(inputs, token_ids=token_ids), positions=positions, weights=weights,
                           masked_ids=masked_ids, sample_seed=sample_seed)

    def _step_seed(self, token_ids: tf.Tensor, step: Any) -> tf.Tensor:
        """A [2] seed from the model seed, the step, the batch's content and the replica."""
        positions = tf.range(1, tf.shape(token_ids)[1] + 1, dtype=tf.int32)
        fingerprint = tf.reduce_sum(token_ids * positions[None, :])
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(fingerprint, tf.int64))
        context = tf.distribute.get_replica_context()
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))

    # --- Keras hooks ---
    def train_step(self, data):
        batch = self.mask(_unpack(data), step=self.optimizer.iterations)
        # Normalisers of the whole global batch, so k accumulated micro-batches give exactly its gradient.
        totals = (global_sum(tf.reduce_sum(batch.weights)),
                  global_sum(tf.reduce_sum(tf.cast(batch.inputs["padding_mask"], tf.float32))))
        shares = []

        def scaled_loss(micro_batch: MaskedBatch) -> tf.Tensor:
            output = self.forward(micro_batch, training=True)
            *token_losses, share = self.losses_of(output, totals)
            self.update_token_metrics(output, *token_losses)
            shares.append(share)
            return self.optimizer.scale_loss(share)

        gradients = accumulated_gradients(batch.split(self.grad_accum_steps), scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.real_tokens.update_state(tf.reduce_sum(tf.cast(batch.inputs["padding_mask"], tf.float32)))
        return self._update_loss_metric(tf.add_n(shares))

    def test_step(self, data):
        output = self(_unpack(data), training=False)
        *token_losses, loss_share = self.losses_of(output)
        self.update_token_metrics(output, *token_losses)
        return self._update_loss_metric(loss_share)

    @staticmethod
    def masked_lm_loss(targets: tf.Tensor, mlm_logits: tf.Tensor, weights: tf.Tensor,
                       total: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(per-slot MLM loss [B, N], this replica's share of its mean over the used slots; `total` is the global
        batch's number of them when the slots are a micro-batch's)."""
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, mlm_logits)
        return losses, replica_share_of_mean(losses, weights, total)

    def update_mlm_metrics(self, mlm_losses: tf.Tensor, mlm_logits: tf.Tensor, targets: tf.Tensor,
                           weights: tf.Tensor) -> None:
        """The masked-LM loss and accuracy at the used slots."""
        self.mlm_loss_tracker.update_state(mlm_losses, sample_weight=weights)
        predictions = tf.argmax(mlm_logits, axis=-1, output_type=tf.int32)
        self.mlm_accuracy.update_state(tf.cast(predictions == targets, tf.float32), weights)

    def _update_loss_metric(self, loss_share: tf.Tensor) -> dict[str, tf.Tensor]:
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        # Every replica adds its share times the replica count with weight 1, so the cross-replica
        # mean over steps is the global loss.
        self.loss_tracker.update_state(loss_share * num_replicas)
        return self.step_logs({metric.name: metric.result() for metric in self.metrics})

    def settings(self) -> dict:
        return {"seed": self.seed, "grad_accum_steps": self.grad_accum_steps}

    def get_config(self):
        config = super().get_config()
        config.update(self.settings(), config=self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, config=ElectraConfig.from_dict(config["config"])))


@registry.register
class ElectraPretrainer(MaskingPretrainer):
    """ELECTRA pre-training (Clark et al. 2020): a masked-LM generator corrupts the input and a
    discriminator learns to tell which tokens were replaced.

    The generator and discriminator share one `ElectraEmbeddings` (word, position and token-type tables
    and the embedding LayerNorm); each has its own projection and transformer. `config.embedding_sharing` can
    change that: "untied" (the paper's ablation) gives the generator embeddings of its own, "gdes" gives the
    discriminator `stop_gradient(E_G) + E_delta` (`DisentangledEmbeddings`, DeBERTa-v3). `train_step` is the
    whole objective: dynamic masking in the graph, the generator's MLM loss at the masked slots only, Gumbel
    sampling in float32 without gradient, relabelling, and the discriminator's loss over every real
    token; `loss = mlm_weight * mlm + rtd_weight * rtd` with global token-weighted means, so the step is
    the same on one device and under any `tf.distribute` strategy.

    Args:
        config: `ElectraConfig`. The discriminator's architecture, the generator's size fractions and
            the objective's settings.
        seed, grad_accum_steps, **kwargs: see `MaskingPretrainer`.

    Example:
    ```python
    import numpy as np
    import keras
    from electra_tf.config import ElectraConfig
    from electra_tf.training.optimization import ElectraAdamW
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    pretrainer = ElectraPretrainer(config)
    pretrainer.compile(optimizer=ElectraAdamW(1e-3))
    token_ids = np.random.randint(104, 120, size=(8, 16)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    batch = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
             "padding_mask": np.ones_like(token_ids)}
    history = pretrainer.fit(batch, batch_size=4, epochs=1, verbose=0)
    assert "rtd_auc" in history.history
    ```

    References:
        - [Clark et al., 2020](https://arxiv.org/abs/2003.10555)
        - [He et al., 2021](https://arxiv.org/abs/2111.09543) (gradient-disentangled embedding sharing)
    """

    TASK_TYPE = "pretraining"

    def __init__(self, config: ElectraConfig, seed: int = 0, grad_accum_steps: int = 1, **kwargs):
        super().__init__(config, seed=seed, grad_accum_steps=grad_accum_steps, **kwargs)
        self.embeddings = build_embeddings(config)
        generator_embeddings = discriminator_embeddings = self.embeddings
        small = generator_config(config)
        if config.embedding_sharing == "untied":
            generator_embeddings = build_embeddings(small, name="generator_embeddings")
        elif config.embedding_sharing == "gdes":
            discriminator_embeddings = DisentangledEmbeddings(self.embeddings, name="disentangled_embeddings")
        # Pre-training batches are full sequences: nothing for packing to skip (`ElectraEncoder`).
        self.generator = ElectraGenerator(
            small, encoder=build_encoder(small, generator_embeddings, pack_in_training=False),
            dtype=self.dtype_policy, name="generator")
        self.discriminator = ElectraDiscriminator(
            config, encoder=build_encoder(config, discriminator_embeddings, pack_in_training=False),
            dtype=self.dtype_policy, name="discriminator")
        mean = keras.metrics.Mean
        self.sampled_mlm_accuracy = mean(name="sampled_mlm_accuracy")
        self.rtd_loss_tracker = mean(name="rtd_loss")
        self.rtd_accuracy = mean(name="rtd_accuracy")
        self.rtd_precision = keras.metrics.Precision(name="rtd_precision")
        self.rtd_recall = keras.metrics.Recall(name="rtd_recall")
        self.rtd_auc = keras.metrics.AUC(name="rtd_auc")
        self.replaced_fraction = mean(name="replaced_fraction")
        # The towers are built at once (sequence length is free): weights exist for loading, counting and
        # checkpoints before the first batch, as for a keras-hub functional backbone.
        self.build(ANY_LENGTH_INPUTS)

    @property
    def encoder(self) -> ElectraEncoder:
        """The encoder ELECTRA keeps: the discriminator's (what fine-tuning starts from)."""
        return self.discriminator.encoder

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.mlm_loss_tracker, self.mlm_accuracy, self.sampled_mlm_accuracy,
                self.rtd_loss_tracker, self.rtd_accuracy, self.rtd_precision, self.rtd_recall,
                self.rtd_auc, self.replaced_fraction, self.real_tokens]

    def standalone_tower(self, name: str) -> EncoderModel:
        """The `generator` or `discriminator` as a model of its own; under GDES a plain discriminator whose tables
        are `E_G + E_delta` (what a model directory of the discriminator and a Hugging Face export hold)."""
        tower = getattr(self, name)
        if not isinstance(tower.encoder.embeddings, DisentangledEmbeddings):
            return tower
        standalone = ElectraDiscriminator(self.config)
        standalone.encoder.set_weights(tower.encoder.standalone_weights())
        standalone.head.set_weights(tower.head.get_weights())
        return standalone

    # --- The objective ---
    def forward(self, batch: MaskedBatch, training: bool = False) -> PretrainingOutput:
        """The generator fills the masked slots, the discriminator finds the replaced tokens."""
        token_ids = batch.inputs["token_ids"]
        # Generator: MLM logits at the selected slots only.
        mlm_logits = self.generator(dict(batch.inputs, token_ids=batch.masked_ids), positions=batch.positions,
                                    training=training)
        mlm_logits = tf.cast(mlm_logits, tf.float32)

        # Sample replacements (float32, no gradient) and relabel: a correct sample counts as real.
        sampled_ids = masking.sample_from_logits(mlm_logits, temperature=self.config.temperature,
                                                 seed=batch.sample_seed)
        corrupted_ids = masking.scatter_update(token_ids, sampled_ids, batch.positions, batch.weights)
        rtd_labels = tf.cast(corrupted_ids != token_ids, tf.float32)

        # Discriminator: one logit per token of the corrupted input.
        rtd_logits = self.discriminator(dict(batch.inputs, token_ids=corrupted_ids), training=training)
        return PretrainingOutput(
            positions=batch.positions, weights=batch.weights,
            targets=masking.gather_positions(token_ids, batch.positions), mlm_logits=mlm_logits,
            sampled_ids=sampled_ids, corrupted_ids=corrupted_ids, rtd_labels=rtd_labels, rtd_logits=tf.cast(rtd_logits, tf.float32),
            padding_mask=tf.cast(batch.inputs["padding_mask"], tf.float32))

    def losses_of(self, output: PretrainingOutput,
                  totals: tuple[tf.Tensor, tf.Tensor] | None = None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(per-token MLM loss [B, N], per-token RTD loss [B, L], this replica's share of the total loss).

        `totals` are the global numbers of MLM slots and real tokens when `output` covers a micro-batch.
        """
        mlm_total, rtd_total = totals if totals is not None else (None, None)
        mlm_losses, mlm_share = self.masked_lm_loss(output.targets, output.mlm_logits, output.weights, mlm_total)
        rtd_losses = tf.nn.sigmoid_cross_entropy_with_logits(output.rtd_labels, output.rtd_logits)
        loss_share = (self.config.mlm_weight * mlm_share
                      + self.config.rtd_weight * replica_share_of_mean(rtd_losses, output.padding_mask, rtd_total))
        return mlm_losses, rtd_losses, loss_share

    def update_token_metrics(self, output: PretrainingOutput, mlm_losses: tf.Tensor, rtd_losses: tf.Tensor) -> None:
        self.update_mlm_metrics(mlm_losses, output.mlm_logits, output.targets, output.weights)
        self.sampled_mlm_accuracy.update_state(
            tf.cast(output.sampled_ids == output.targets, tf.float32), output.weights)
        mask = output.padding_mask
        probabilities = tf.sigmoid(output.rtd_logits)
        self.rtd_loss_tracker.update_state(rtd_losses, sample_weight=mask)
        self.rtd_accuracy.update_state(
            tf.cast((probabilities > 0.5) == (output.rtd_labels > 0.5), tf.float32), mask)
        for metric in (self.rtd_precision, self.rtd_recall, self.rtd_auc):
            metric.update_state(output.rtd_labels, probabilities, sample_weight=mask)
        self.replaced_fraction.update_state(output.rtd_labels, sample_weight=mask)


def _unpack(data) -> dict[str, tf.Tensor]:
    """The model inputs of a batch given as a dict or as `(dict,)` / `(dict, y, sample_weight)`, with the word
    starts of whole-word masking when the batch has them (`mask` reads them; the towers never see them)."""
    inputs = data[0] if isinstance(data, (tuple, list)) else data
    missing = [key for key in INPUT_KEYS if key not in inputs]
    if missing:
        raise ValueError(f"Pre-training batches need the keys {INPUT_KEYS}; missing {missing}.")
    return {key: inputs[key] for key in (*INPUT_KEYS, WORD_START) if key in inputs}
