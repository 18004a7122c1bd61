"""`ElectraPretrainer`: generator + discriminator trained jointly on replaced-token detection."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig, generator_config
from electra_tf.models import masking
from electra_tf.models import base
from electra_tf.models.base import build_embeddings, build_encoder
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.losses import replica_share_of_mean
from electra_tf.text.tokenizer import WordPieceTokenizer

INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")


@dataclasses.dataclass(frozen=True)
class PretrainingOutput:
    """Everything one pass of the objective computes (B batch, L length, N mask slots, V vocabulary)."""

    positions: tf.Tensor  # [B, N] selected positions
    weights: tf.Tensor  # [B, N] 1 for used slots
    targets: tf.Tensor  # [B, N] original ids at the positions
    mlm_logits: tf.Tensor  # [B, N, V] generator logits, float32
    sampled_ids: tf.Tensor  # [B, N] generator samples
    rtd_labels: tf.Tensor  # [B, L] 1 where the discriminator's input differs from the original
    rtd_logits: tf.Tensor  # [B, L] discriminator logits, float32
    padding_mask: tf.Tensor  # [B, L] float32, the RTD loss weights


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPretrainer(keras.Model):
    """ELECTRA pre-training (Clark et al. 2020): a masked-LM generator corrupts the input and a
    discriminator learns to tell which tokens were replaced.

    The generator and discriminator share one `ElectraEmbeddings` (word, position and token-type tables
    and the embedding LayerNorm); each has its own projection and transformer. `train_step` is the whole
    objective: dynamic masking in the graph, the generator's MLM loss at the masked slots only, Gumbel
    sampling in float32 without gradient, relabelling, and the discriminator's loss over every real
    token; `loss = mlm_weight * mlm + rtd_weight * rtd` with global token-weighted means, so the step is
    the same on one device and under any `tf.distribute` strategy.

    Args:
        config: `ElectraConfig`. The discriminator's architecture, the generator's size fractions and
            the objective's settings.
        seed: int. Seed of the masking and sampling streams. Defaults to `0`.
        **kwargs: other keyword arguments passed to `keras.Model`.

    Example:
    ```python
    import numpy as np
    import keras
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    pretrainer = ElectraPretrainer(config)
    pretrainer.compile(optimizer=keras.optimizers.AdamW(1e-3))
    token_ids = np.random.randint(104, 120, size=(8, 16)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    batch = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
             "padding_mask": np.ones_like(token_ids)}
    history = pretrainer.fit(batch, batch_size=4, epochs=1, verbose=0)
    assert "rtd_auc" in history.history
    ```

    References:
        - [Clark et al., 2020](https://arxiv.org/abs/2003.10555)
    """

    def __init__(self, config: ElectraConfig, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if config.mask_token_id is None:
            raise ValueError("Pre-training needs config.mask_token_id, the id of [MASK] in the vocabulary.")
        self.config = config
        self.seed = seed
        self.embeddings = build_embeddings(config)
        self.generator = ElectraGenerator(
            build_encoder(generator_config(config), self.embeddings), dtype=self.dtype_policy,
            name="generator")
        self.discriminator = ElectraDiscriminator(
            build_encoder(config, self.embeddings), dtype=self.dtype_policy, name="discriminator")
        mean = keras.metrics.Mean
        self.loss_tracker = mean(name="loss")
        self.mlm_loss_tracker = mean(name="mlm_loss")
        self.mlm_accuracy = mean(name="mlm_accuracy")
        self.sampled_mlm_accuracy = mean(name="sampled_mlm_accuracy")
        self.rtd_loss_tracker = mean(name="rtd_loss")
        self.rtd_accuracy = mean(name="rtd_accuracy")
        self.rtd_precision = keras.metrics.Precision(name="rtd_precision")
        self.rtd_recall = keras.metrics.Recall(name="rtd_recall")
        self.rtd_auc = keras.metrics.AUC(name="rtd_auc")
        self.replaced_fraction = mean(name="replaced_fraction")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.mlm_loss_tracker, self.mlm_accuracy, self.sampled_mlm_accuracy,
                self.rtd_loss_tracker, self.rtd_accuracy, self.rtd_precision, self.rtd_recall,
                self.rtd_auc, self.replaced_fraction]

    def build(self, inputs_shape):
        self.generator.build(inputs_shape)
        self.discriminator.build(inputs_shape)
        self.built = True

    # --- The objective ---
    def call(self, inputs: dict[str, tf.Tensor], training: bool = False, step: Any = 0) -> PretrainingOutput:
        """Runs mask -> generator -> sample -> relabel -> discriminator on a batch.

        Args:
            inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L] with a fixed L.
            training: bool. Dropout on or off.
            step: int scalar mixed into the random seed, so each training step masks afresh.

        Returns:
            A `PretrainingOutput`.
        """
        config = self.config
        token_ids = tf.cast(inputs["token_ids"], tf.int32)
        padding_mask = inputs["padding_mask"]
        sequence_length = token_ids.shape[1]
        if sequence_length is None:
            raise ValueError("Pre-training batches need a fixed sequence length: pad every batch to seq_len.")
        mask_seed, replace_seed, sample_seed = tf.unstack(
            tf.random.experimental.stateless_split(self._step_seed(token_ids, step), 3))

        # Mask the input: choose N slots, 85% become [MASK], 15% keep their token.
        positions, weights = masking.select_positions(
            token_ids, padding_mask, mask_prob=config.mask_prob,
            max_predictions=config.max_predictions(sequence_length),
            special_token_ids=config.special_token_ids(), seed=mask_seed,
            with_replacement=config.sample_with_replacement)
        masked_ids = masking.apply_masks(
            token_ids, positions, weights, mask_token_id=config.mask_token_id,
            mask_token_rate=config.mask_token_rate, seed=replace_seed)

        # Generator: MLM logits at the selected slots only.
        generator_inputs = dict(inputs, token_ids=masked_ids)
        mlm_logits = tf.cast(self.generator(generator_inputs, positions=positions, training=training), tf.float32)

        # Sample replacements (float32, no gradient) and relabel: a correct sample counts as real.
        sampled_ids = masking.sample_from_logits(mlm_logits, temperature=config.temperature, seed=sample_seed)
        corrupted_ids = masking.scatter_update(token_ids, sampled_ids, positions, weights)
        rtd_labels = tf.cast(corrupted_ids != token_ids, tf.float32)

        # Discriminator: one logit per token of the corrupted input.
        discriminator_inputs = dict(inputs, token_ids=corrupted_ids)
        rtd_logits = tf.cast(self.discriminator(discriminator_inputs, training=training), tf.float32)
        return PretrainingOutput(
            positions=positions, weights=weights, targets=masking.gather_positions(token_ids, positions),
            mlm_logits=mlm_logits, sampled_ids=sampled_ids, rtd_labels=rtd_labels, rtd_logits=rtd_logits,
            padding_mask=tf.cast(padding_mask, tf.float32))

    def _step_seed(self, token_ids: tf.Tensor, step: Any) -> tf.Tensor:
        """A [2] seed from the model seed, the step, the batch's content and the replica."""
        positions = tf.range(1, tf.shape(token_ids)[1] + 1, dtype=tf.int32)
        fingerprint = tf.reduce_sum(token_ids * positions[None, :])
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(fingerprint, tf.int64))
        context = tf.distribute.get_replica_context()
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))

    def losses_of(self, output: PretrainingOutput) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(per-token MLM loss [B, N], per-token RTD loss [B, L], this replica's share of the total loss)."""
        mlm_losses = tf.nn.sparse_softmax_cross_entropy_with_logits(output.targets, output.mlm_logits)
        rtd_losses = tf.nn.sigmoid_cross_entropy_with_logits(output.rtd_labels, output.rtd_logits)
        loss_share = (self.config.mlm_weight * replica_share_of_mean(mlm_losses, output.weights)
                      + self.config.rtd_weight * replica_share_of_mean(rtd_losses, output.padding_mask))
        return mlm_losses, rtd_losses, loss_share

    # --- Keras hooks ---
    def train_step(self, data):
        inputs = _unpack(data)
        with tf.GradientTape() as tape:
            output = self(inputs, training=True, step=self.optimizer.iterations)
            mlm_losses, rtd_losses, loss_share = self.losses_of(output)
            scaled_loss = self.optimizer.scale_loss(loss_share)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(output, mlm_losses, rtd_losses, loss_share)

    def test_step(self, data):
        inputs = _unpack(data)
        output = self(inputs, training=False)
        return self._update_metrics(output, *self.losses_of(output))

    def _update_metrics(self, output, mlm_losses, rtd_losses, loss_share):
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        # Every replica adds its share times the replica count with weight 1, so the cross-replica
        # mean over steps is the global loss.
        self.loss_tracker.update_state(loss_share * num_replicas)
        self.mlm_loss_tracker.update_state(mlm_losses, sample_weight=output.weights)
        predictions = tf.argmax(output.mlm_logits, axis=-1, output_type=tf.int32)
        self.mlm_accuracy.update_state(tf.cast(predictions == output.targets, tf.float32), output.weights)
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
        return {metric.name: metric.result() for metric in self.metrics}

    # --- The model directory ---
    def save_pretrained(self, directory: str | os.PathLike, tokenizer: WordPieceTokenizer | None = None) -> None:
        """Writes config, weights (generator and discriminator) and, if given, the tokenizer to `directory`."""
        base.save_model_directory(self, self.config, directory, tokenizer)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **kwargs) -> "ElectraPretrainer":
        """Loads a pre-trainer saved by `save_pretrained`."""
        pretrainer = cls(base.load_config(directory), **kwargs)
        pretrainer.build({key: (None, None) for key in INPUT_KEYS})
        base.load_weights(pretrainer, directory)
        return pretrainer

    def get_config(self):
        config = super().get_config()
        config.update({"config": self.config.to_dict(), "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, config=ElectraConfig.from_dict(config["config"])))


def _unpack(data) -> dict[str, tf.Tensor]:
    """The model inputs of a batch given as a dict or as `(dict,)` / `(dict, y, sample_weight)`."""
    inputs = data[0] if isinstance(data, (tuple, list)) else data
    missing = [key for key in INPUT_KEYS if key not in inputs]
    if missing:
        raise ValueError(f"Pre-training batches need the keys {INPUT_KEYS}; missing {missing}.")
    return {key: inputs[key] for key in INPUT_KEYS}
