"""Throughput of one ELECTRA pre-training train step, for several numerics / compilation variants.

What is measured: `ElectraPretrainer.train_step` (masking, generator, Gumbel sampling, discriminator,
both losses, the backward pass, an AdamW update and the metrics) on synthetic batches of
`--batch_size` x `--seq_len` random tokens ([CLS] first, [SEP] last, no padding) from a repeated
`tf.data.Dataset`. Each variant gets a fresh model; one `fit` step builds it and traces (and for XLA
compiles) the train function, reported as `compile_s`; then `--warmup` untimed steps and `--steps`
timed calls of `model.train_function`, each synchronised by reading the loss back.

Variants (`--variants`, all by default):
  float32                    the reference: float32, no XLA.
  float32_xla                `compile(jit_compile=True)`.
  mixed_bfloat16             global policy "mixed_bfloat16" while the variant is built and run.
  mixed_bfloat16_xla         both.
  float32_full_vocab_logits  float32, no XLA, but the generator head computes logits at all B x L
                             positions and the N masked ones are gathered afterwards (Hugging Face,
                             electra_pytorch), instead of gathering the N hidden states before the head.

How to read it: `tokens_per_s` = batch_size * seq_len / median step time; `ratio` = the variant's
tokens_per_s / the float32 reference's, so 1.3 means 30% faster and 0.8 means 20% slower. Only ratios
from one run (same machine, same load) are comparable. A variant that fails records `error` instead.

Usage:
  python bench/pretrain_step.py                          # ELECTRA-Small, batch 32, length 128
  python bench/pretrain_step.py --config=tiny --steps=3  # quick check
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Any
from unittest import mock

from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.models import masking, pretrainer
from electra_tf.models.generator import ElectraGenerator

# name: (dtype policy, jit_compile, full-vocabulary generator logits)
VARIANTS: dict[str, tuple[str, bool, bool]] = {
    "float32": ("float32", False, False),
    "float32_xla": ("float32", True, False),
    "mixed_bfloat16": ("mixed_bfloat16", False, False),
    "mixed_bfloat16_xla": ("mixed_bfloat16", True, False),
    "float32_full_vocab_logits": ("float32", False, True),
}
REFERENCE = "float32"

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.")
flags.DEFINE_integer("seq_len", 128, "Tokens per example.")
flags.DEFINE_integer("steps", 10, "Timed steps per variant.")
flags.DEFINE_integer("warmup", 2, "Untimed steps per variant after the compiling first step.")
flags.DEFINE_list("variants", list(VARIANTS), f"Variants to run, among {list(VARIANTS)}.")
flags.DEFINE_integer("seed", 0, "Seed of the synthetic data and the models.")


class FullVocabLogitsGenerator(ElectraGenerator):
    """Runs the head on all B x L hidden states ([B, L, V] logits), then gathers the N masked slots."""

    def call(self, inputs, positions=None, training=None):
        logits = super().call(inputs, positions=None, training=training)
        return logits if positions is None else masking.gather_positions(logits, positions)


def synthetic_dataset(config: ElectraConfig, batch_size: int, seq_len: int, seed: int) -> tf.data.Dataset:
    """Four distinct batches of random non-special tokens between [CLS] and [SEP], repeated forever."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(config.sep_token_id + 2, config.vocab_size, size=(4 * batch_size, seq_len))
    token_ids[:, 0], token_ids[:, -1] = config.cls_token_id, config.sep_token_id
    features = {"token_ids": token_ids.astype("int32"), "segment_ids": np.zeros_like(token_ids, "int32"),
                "padding_mask": np.ones_like(token_ids, "int32")}
    return tf.data.Dataset.from_tensor_slices(features).batch(batch_size, drop_remainder=True).repeat().prefetch(2)


def measure(config: ElectraConfig, dataset: tf.data.Dataset, policy: str, jit_compile: bool,
            full_vocab_logits: bool) -> dict[str, Any]:
    """Builds a fresh pretrainer under `policy`, compiles its step, and times `--steps` steps."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(FLAGS.seed)
    keras.mixed_precision.set_global_policy(policy)
    try:
        generator_class = FullVocabLogitsGenerator if full_vocab_logits else ElectraGenerator
        with mock.patch.object(pretrainer, "ElectraGenerator", generator_class):
            model = pretrainer.ElectraPretrainer(config, seed=FLAGS.seed)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=jit_compile)
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # builds, traces, compiles
        compile_s = time.perf_counter() - start
        iterator = iter(dataset)
        step_s = []
        for step in range(FLAGS.warmup + FLAGS.steps):
            start = time.perf_counter()
            loss = float(model.train_function(iterator)["loss"])
            if step >= FLAGS.warmup:
                step_s.append(time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    median_s = statistics.median(step_s)
    return {"tokens_per_s": round(FLAGS.batch_size * FLAGS.seq_len / median_s, 1),
            "step_ms": round(1000 * median_s, 1),
            "step_ms_min_max": [round(1000 * min(step_s), 1), round(1000 * max(step_s), 1)],
            "compile_s": round(compile_s, 1), "jit_compile": bool(model.jit_compile), "final_loss": round(loss, 4)}


def device_name() -> str:
    """The GPU TensorFlow sees, else the CPU model and its logical core count."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return f"{cpu} ({os.cpu_count()} logical CPUs)"


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.variants) - set(VARIANTS))
    if unknown:
        raise app.UsageError(f"Unknown variants {unknown}; choose among {list(VARIANTS)}.")
    config = ElectraConfig.from_preset(FLAGS.config)
    dataset = synthetic_dataset(config, FLAGS.batch_size, FLAGS.seq_len, FLAGS.seed)
    results: dict[str, dict[str, Any]] = {}
    total_start = time.perf_counter()
    for name in FLAGS.variants:
        logging.info("Variant %s ...", name)
        try:
            results[name] = measure(config, dataset, *VARIANTS[name])
        except Exception as error:  # recorded, so the other variants still run
            logging.exception("Variant %s failed.", name)
            results[name] = {"error": f"{type(error).__name__}: {str(error).strip()[:1000]}"}
        logging.info("Variant %s: %s", name, results[name])
    reference = results.get(REFERENCE, {}).get("tokens_per_s")
    for result in results.values():
        if reference and "tokens_per_s" in result:
            result["ratio"] = round(result["tokens_per_s"] / reference, 3)
    report = {
        "benchmark": "electra_pretrain_train_step", "device": device_name(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "config": FLAGS.config,
        "vocab_size": config.vocab_size, "batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len,
        "mask_slots": config.max_predictions(FLAGS.seq_len), "steps": FLAGS.steps, "warmup": FLAGS.warmup,
        "reference": REFERENCE, "variants": results, "total_s": round(time.perf_counter() - total_start, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    app.run(main)
