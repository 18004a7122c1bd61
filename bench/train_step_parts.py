"""A fine-tuning step with each of three parts as it was before, against the package's step, in one process.

An ELECTRA-Small classifier (`--config`, random weights) takes training steps in five variants, the variants
taking turns step by step on the same batches:

  package             the package as it is;
  keras_adam          the optimizer's update through Keras's Adam ops (a dozen per variable) instead of
                      TensorFlow's ApplyAdam kernel (`ElectraAdamW.update_step`);
  scatter_gradients   packed tokens with TensorFlow's gradient of a gather (a scatter) instead of gathers
                      (`PackedTokens.pack` / `unpack`);
  where_masks         attention's core masking with `tf.where` before and after the softmax, as
                      `keras.layers.Softmax` does, instead of an additive bias (`attention_core`);
  all_before          the three together.

on two workloads: `full` (batches of 32 x `--seq_len` random ids without padding, the fixed-length step of
`compare_peers.py`) and `padded` (32 rows padded to 64 positions, 10-63 real tokens each, as batches of real text
padded to their longest are). Per workload: the median milliseconds per step of each variant and `speedup` =
variant / package (above 1: the package is faster).

Usage:
  python bench/train_step_parts.py > bench/results/train_step_parts.json   # about 8 minutes on 2 CPU cores
  python bench/train_step_parts.py --config=tiny --steps=3                   # quick check
"""

from __future__ import annotations

import contextlib
import json
import statistics
from unittest import mock

from absl import app, flags
import keras
import numpy as np
import tensorflow as tf

from common import device_name, time_in_turns  # bench/common.py (on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.layers import attention as attention_module
from electra_tf.layers.dropout import dropout
from electra_tf.layers.packing import PackedTokens
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.training.optimization import ElectraAdamW, create_optimizer

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("seq_len", 128, "Tokens per example of the `full` workload.")
flags.DEFINE_integer("steps", 12, "Timed steps per workload and variant.", lower_bound=3)
flags.DEFINE_integer("threads", 2, "Intra-op threads.")


def keras_adam_update(self, gradient, variable, learning_rate):
    """`ElectraAdamW.update_step` through Keras's Adam ops."""
    index = self._get_variable_index(variable)
    lr = keras.ops.cast(learning_rate, variable.dtype) * self._lr_multipliers[index]
    if self._decays[index]:
        self.assign_sub(variable, variable * keras.ops.cast(self.weight_decay, variable.dtype) * lr)
    keras.optimizers.AdamW.update_step(self, gradient, variable, lr)


def scatter_pack(self, padded):
    """`PackedTokens.pack` with TensorFlow's gather gradient."""
    return tf.gather(tf.reshape(padded, tf.concat([[-1], tf.shape(padded)[2:]], axis=0)), self.token_positions)


def scatter_unpack(self, packed):
    """`PackedTokens.unpack` with TensorFlow's gather gradient."""
    return tf.gather(packed, self.packed_index)


def where_masks_core(query, key, value, mask, scale, rate, seed):
    """`attention_core` masking as `keras.layers.Softmax` does: a select before and after the softmax."""
    def heads_first(x):
        return tf.einsum("abcd->acbd", x)

    scores = tf.matmul(heads_first(query * tf.cast(scale, query.dtype)), heads_first(key), transpose_b=True)
    mask = tf.cast(mask, tf.bool)[:, None]
    scores = tf.where(mask, scores, tf.constant(-1e9, scores.dtype))
    probabilities = tf.where(mask, tf.nn.softmax(scores), tf.zeros([], scores.dtype))
    if seed is not None:
        probabilities = dropout(probabilities, rate, seed)
    return heads_first(tf.matmul(probabilities, heads_first(value)))


PATCHES = {
    "keras_adam": [mock.patch.object(ElectraAdamW, "update_step", keras_adam_update)],
    "scatter_gradients": [mock.patch.object(PackedTokens, "pack", scatter_pack),
                          mock.patch.object(PackedTokens, "unpack", scatter_unpack)],
    "where_masks": [mock.patch.object(attention_module, "attention_core", where_masks_core)],
}
PATCHES["all_before"] = [patch for patches in PATCHES.values() for patch in patches]
VARIANTS = ["package", *PATCHES]


def batches(config: ElectraConfig) -> dict[str, dict]:
    rng = np.random.default_rng(0)
    ids = rng.integers(104, config.vocab_size, size=(32, FLAGS.seq_len)).astype("int32")
    full = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    mask = (np.arange(64)[None] < rng.integers(10, 64, size=32)[:, None]).astype("int32")
    padded = {"token_ids": ids[:, :64] * mask, "segment_ids": np.zeros_like(mask), "padding_mask": mask}
    return {"full": full, "padded": padded}


def trained_step(config: ElectraConfig, variant: str, inputs: dict[str, dict], labels: np.ndarray):
    """A classifier whose train step was traced (for every workload's shapes) with `variant`'s parts."""
    keras.utils.set_random_seed(0)
    model = ElectraClassifier(config, num_labels=2)
    model.compile(optimizer=create_optimizer(1e-4, 1000, 10),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with contextlib.ExitStack() as stack:
        for patch in PATCHES.get(variant, []):
            stack.enter_context(patch)
        for batch in inputs.values():  # traces the step for each shape while patched
            model.train_on_batch(batch, labels)
    return lambda batch: tf.constant(model.train_on_batch(batch, labels))  # a loss read back, as time_call wants


def main(argv: list[str]) -> None:
    del argv
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    config = ElectraConfig.from_preset(FLAGS.config)
    inputs = batches(config)
    labels = (np.arange(32) % 2).astype("int32")
    steps = {variant: trained_step(config, variant, inputs, labels) for variant in VARIANTS}
    results = {}
    for workload, batch in inputs.items():
        seconds = time_in_turns(steps, [batch] * FLAGS.steps, warmup=1)
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        results[workload] = {"step_ms": {name: round(1000 * value, 1) for name, value in medians.items()},
                             "speedup": {name: round(medians[name] / medians["package"], 3)
                                         for name in PATCHES}}
    print(json.dumps({"benchmark": "train_step_parts", "device": device_name(), "config": FLAGS.config,
                      "seq_len": FLAGS.seq_len, "workloads": results}, indent=2))


if __name__ == "__main__":
    app.run(main)
