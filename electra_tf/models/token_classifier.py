"""`ElectraTokenClassifier`: one label per token (NER, chunking, part-of-speech tagging)."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.crf import LinearChainCrf
from electra_tf.layers.dropout import PhiloxDropout
from electra_tf.models import registry
from electra_tf.models.base import EncoderModel
from electra_tf.models.labels import resolve_labels
from electra_tf.tag_schemes import allowed_transitions
from electra_tf.text.tagging import IGNORED_LABEL, WordTaggingPreprocessor

# The CRF's scores learn at this multiple of the encoder's learning rate: at the encoder's rate its
# transitions barely move in a fine-tuning run (bert4keras uses 1000 at 2e-5; the paper's Small LR is 3e-4).
CRF_LR_MULTIPLIER = 100.0


@registry.register
class ElectraTokenClassifier(EncoderModel):
    """An ELECTRA encoder with a per-token classification head: dropout, then one Dense layer on every
    token's final hidden state.

    This is both the original tagging head (google-research/electra `tagging_tasks.py` applies one Dense to
    the first word-piece of each word) and Hugging Face's `ElectraForTokenClassification` (dropout + Dense on
    every token): which tokens count is decided by the labels, where `IGNORED_LABEL` (-100) marks the
    tokens the loss skips, e.g. every word-piece but a word's first.

    With `crf=True` a linear-chain CRF (`LinearChainCrf`) sits on the labelled tokens' logits: the loss is its
    negative log-likelihood per window and `decode` is Viterbi; with `crf_constraints` (and BIO/BIOES
    `label_names`) illegal transitions such as `O` -> `I-X` are never decoded. Its scores learn at
    `CRF_LR_MULTIPLIER` times the learning rate (`lr_multipliers`).

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        num_labels: int or None. Tag classes. Defaults to the number of `label_names`.
        label_names: sequence of str or None. The name of each tag, saved with the model.
        dropout: float. Dropout before the Dense layer. Defaults to `0.1`.
        crf: bool. Decode with a linear-chain CRF instead of a per-token argmax. Defaults to `False`.
        crf_constraints: bool. With `crf`, forbid the transitions the tag scheme of `label_names` forbids.
            Defaults to `True`.
        **kwargs: `encoder`, `preprocessor` (see `EncoderModel`) and other `keras.Model` arguments.

    Example:
    ```python
    import numpy as np
    from electra_tf.config import ElectraConfig
    config = ElectraConfig.from_preset("tiny", vocab_size=120)
    tagger = ElectraTokenClassifier(config, num_labels=5)
    inputs = {"token_ids": np.array([[101, 5, 7, 102]]), "segment_ids": np.zeros((1, 4), "int32"),
              "padding_mask": np.ones((1, 4), "int32")}
    assert tuple(tagger(inputs).shape) == (1, 4, 5)
    tagger.compile(optimizer="adam")
    labels = np.array([[IGNORED_LABEL, 3, 0, IGNORED_LABEL]])
    history = tagger.fit(inputs, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    ```
    """

    TASK_TYPE = "token_classification"
    PREPROCESSOR_CLASS = WordTaggingPreprocessor

    def __init__(self, config: ElectraConfig, num_labels: int | None = None, *,
                 label_names: Sequence[str] | None = None, dropout: float = 0.1, crf: bool = False,
                 crf_constraints: bool = True, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels, self.label_names = resolve_labels(num_labels, label_names, minimum=2)
        self.dropout = dropout
        self.head_dropout = PhiloxDropout(dropout, dtype=self.dtype_policy, name="head_dropout")
        # float32 logits under mixed precision: the softmax stays accurate.
        self.logits = keras.layers.Dense(self.num_labels, dtype="float32", name="logits")
        self.crf_constraints = crf_constraints
        self.crf = None
        if crf:
            allowed = {}
            if crf_constraints and self.label_names is not None:
                allowed = dict(zip(("allowed", "allowed_start", "allowed_end"),
                                   allowed_transitions(self.label_names)))
            self.crf = LinearChainCrf(self.num_labels, **allowed, dtype="float32", name="crf")
        self.build(ANY_LENGTH_INPUTS)

    def build_head(self, hidden_size: int) -> None:
        self.logits.build((None, None, hidden_size))
        if self.crf is not None:
            self.crf.build()

    def settings(self) -> dict:
        return {"num_labels": self.num_labels, "label_names": self.label_names, "dropout": self.dropout,
                "crf": self.crf is not None, "crf_constraints": self.crf_constraints}

    def lr_multipliers(self) -> dict[str, float]:
        return {} if self.crf is None else {self.crf.name: CRF_LR_MULTIPLIER}

    def call(self, inputs, training=None):
        """Logits [B, L, num_labels] for a dict of `token_ids`, `segment_ids`, `padding_mask`, each [B, L]."""
        hidden = self.encoder(self.model_inputs(inputs), training=training)
        return self.logits(self.head_dropout(hidden, training=training))

    def compile(self, optimizer="adam", loss="auto", **kwargs):
        """Compiles with cross-entropy averaged over the labelled tokens (labels != `IGNORED_LABEL`), or with
        a CRF, its negative log-likelihood over them (`compute_loss`)."""
        if loss == "auto":
            loss = None if self.crf is not None else keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=IGNORED_LABEL)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.crf is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        # The labelled tokens of each window, moved to the front: the CRF's sequence of words.
        labelled = tf.not_equal(y, IGNORED_LABEL)
        emissions, mask = _compact(y_pred, labelled)
        tags, _ = _compact(tf.where(labelled, y, 0), labelled)
        losses = -self.crf.log_likelihood(emissions, tags, mask)
        if sample_weight is not None:
            losses *= tf.cast(sample_weight, losses.dtype)
        # The mean over the global batch: each replica's share, summed by the strategy's all-reduce.
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return tf.reduce_mean(losses) / num_replicas + (tf.add_n(self.losses) if self.losses else 0.0)

    def decode(self, word_logits: tf.Tensor, word_mask: tf.Tensor) -> tf.Tensor:
        """Tag ids [B, W] of words from their logits [B, W, num_labels] (first pieces, in order; `word_mask`
        [B, W] is 1 on real words): Viterbi with a CRF, else each word's argmax. 0 where masked."""
        if self.crf is not None:
            return self.crf.decode(word_logits, word_mask)
        tags = tf.argmax(word_logits, axis=-1, output_type=tf.int32)
        return tf.where(tf.cast(word_mask, tf.bool), tags, tf.zeros_like(tags))


def _compact(values: tf.Tensor, keep: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The kept positions of each row moved to the front ([B, K, ...], zero-padded) and their mask [B, K]."""
    ragged = tf.ragged.boolean_mask(values, keep)
    return ragged.to_tensor(), tf.sequence_mask(ragged.row_lengths())
