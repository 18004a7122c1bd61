"""Throughput of one ELECTRA pre-training train step, for several numerics / compilation variants.

What is measured: `ElectraPretrainer.train_step` (masking, generator, Gumbel sampling, discriminator,
both losses, the backward pass, an AdamW update and the metrics) on synthetic batches of
`--batch_size` x `--seq_len` random tokens ([CLS] first, [SEP] last, no padding) from a repeated
`tf.data.Dataset`. Each variant gets a fresh model; one `fit` step builds it and traces (for XLA also
compiles) its train function, reported as `compile_s` (that first step included). Then all variants
run `model.train_function` in round robin, one step each per round, so a change in background load
hits them alike: `--warmup` untimed rounds, then up to `--steps` timed ones, each step synchronised by
reading its loss back. A variant leaves the rounds once it has `MIN_STEPS` timed steps adding up to
`--max_timed_s` (XLA is slow on CPU; the defaults take about 13 minutes on 2 cores).

Variants (`--variants`, all by default):
  float32                    the reference: float32, no XLA.
  float32_xla                `compile(jit_compile=True)`.
  mixed_bfloat16             global policy "mixed_bfloat16" while the variant's model is built.
  mixed_bfloat16_xla         both.
  float32_full_vocab_logits  float32, no XLA, but the generator head computes logits at all B x L
                             positions and the N masked ones are gathered afterwards (Hugging Face,
                             electra_pytorch), instead of gathering the N hidden states before the head.
  float32_keras_einsum_dense  float32, no XLA, but the attention projections left as Keras's `EinsumDense`
                             (a batch matmul broadcasting the kernel over the batch on TensorFlow) instead
                             of the encoder's `TFEinsumDense` (`tf.einsum`: one matmul over all tokens).
  float32_unfused            float32, no XLA, and the encoder's `xla_fused` functions (attention core, GELU)
                             traced as plain TensorFlow ops, as an export traces them (`fusion.unfused`).
  float32_xla_attention      float32, no XLA, attention's core as its XLA program (`fused_attention_core`, what
                             machines with GPUs run) instead of TensorFlow's ops (`attention_core`, on CPUs).
  mixed_bfloat16_xla_attention  the same in mixed_bfloat16.

How to read it: `tokens_per_s` = batch_size * seq_len / median step time; `ratio` = the variant's
tokens_per_s / the float32 reference's, so 1.3 means 30% faster and 0.8 means 20% slower. Compare
ratios from one run only. `mfu` = `model_tflops` (the step's matmul FLOPs per token, counted as
bench/mfu.py does, times tokens_per_s) / the matmul peak of the variant's compute dtype measured at the end of
the same run (`peak_tflops`; on NVIDIA GPUs TensorFlow's float32 matmuls are TF32). `step_ms_min_max`
shows the noise. `first_loss`, the loss of the compiling step (same batch, same initial weights), should be
close across variants: a numerics sanity check. A variant that fails records `error` instead.

Usage:
  python bench/pretrain_step.py                          # ELECTRA-Small, batch 32, length 128
  python bench/pretrain_step.py --config=tiny --steps=3  # quick check (about 2 minutes)
  # On a GPU, the paper's batches, mixed precision and XLA (ELECTRA-Small, then -Base):
  python bench/pretrain_step.py --batch_size=128 --variants=float32,mixed_bfloat16,mixed_bfloat16_xla
  python bench/pretrain_step.py --config=base --batch_size=256 --seq_len=512 \
      --variants=float32,mixed_bfloat16,mixed_bfloat16_xla
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import statistics
import time
from typing import Any
from unittest import mock

from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import PRESETS, ElectraConfig, generator_config
from electra_tf.models import masking, pretrainer
from electra_tf.layers import attention, encoder
from electra_tf.layers.einsum_dense import TFEinsumDense
from electra_tf.layers.fusion import unfused
from electra_tf.models.generator import ElectraGenerator
from common import device_name, matmul_peak_flops  # bench/common.py (the script's folder is on sys.path)
from mfu import training_flops_per_token

@dataclasses.dataclass(frozen=True)
class Variant:
    policy: str  # Keras dtype policy while the model is built
    jit_compile: bool = False
    full_vocab_logits: bool = False  # the generator head at every position, then the masked slots gathered
    keras_einsum_dense: bool = False  # attention projections as Keras's EinsumDense, not TFEinsumDense
    fused: bool = True  # `xla_fused` functions compiled by XLA (else traced as plain TensorFlow ops)
    xla_attention: bool | None = None  # attention's core as XLA's program (True) or TF ops (False), not by machine


VARIANTS: dict[str, Variant] = {
    "float32": Variant("float32"),
    "float32_xla": Variant("float32", jit_compile=True),
    "mixed_bfloat16": Variant("mixed_bfloat16"),
    "mixed_bfloat16_xla": Variant("mixed_bfloat16", jit_compile=True),
    "float32_full_vocab_logits": Variant("float32", full_vocab_logits=True),
    "float32_keras_einsum_dense": Variant("float32", keras_einsum_dense=True),
    "float32_unfused": Variant("float32", fused=False),
    "float32_xla_attention": Variant("float32", xla_attention=True),
    "mixed_bfloat16_xla_attention": Variant("mixed_bfloat16", xla_attention=True),
}
REFERENCE = "float32"
MIN_STEPS = 3  # timed steps every variant gets, whatever --max_timed_s says

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Tokens per example.", lower_bound=3)
flags.DEFINE_integer("steps", 10, "Timed steps per variant, at most (see --max_timed_s).", lower_bound=1)
flags.DEFINE_integer("warmup", 1, "Untimed rounds after the compiling first steps.", lower_bound=0)
flags.DEFINE_float("max_timed_s", 60.0, f"Seconds of timed steps after which a variant (with at least "
                   f"{MIN_STEPS} timed steps) stops being timed.")
flags.DEFINE_list("variants", list(VARIANTS), f"Variants to run, among {list(VARIANTS)}.")
flags.DEFINE_integer("seed", 0, "Seed of the synthetic data and the models.")


class FullVocabLogitsGenerator(ElectraGenerator):
    """Runs the head on all B x L hidden states ([B, L, V] logits), then gathers the N masked slots."""

    def call(self, inputs, positions=None, training=None):
        logits = super().call(inputs, positions=None, training=training)
        return logits if positions is None else masking.gather_positions(logits, positions)


@dataclasses.dataclass
class Run:
    """A compiled variant and its measurements so far."""

    model: keras.Model
    iterator: tf.data.Iterator
    compile_s: float
    first_loss: float
    step_s: list[float] = dataclasses.field(default_factory=list)

    def step(self) -> float:
        """Seconds of one train step."""
        start = time.perf_counter()
        float(self.model.train_function(self.iterator)["loss"])  # reading the loss waits for the step
        return time.perf_counter() - start

    def summary(self) -> dict[str, Any]:
        median_s = statistics.median(self.step_s)
        return {"tokens_per_s": round(FLAGS.batch_size * FLAGS.seq_len / median_s, 1),
                "step_ms": round(1000 * median_s, 1),
                "step_ms_min_max": [round(1000 * min(self.step_s), 1), round(1000 * max(self.step_s), 1)],
                "timed_steps": len(self.step_s), "compile_s": round(self.compile_s, 1),
                "jit_compile": bool(self.model.jit_compile), "first_loss": round(self.first_loss, 4)}


def synthetic_dataset(config: ElectraConfig) -> tf.data.Dataset:
    """Four distinct batches of random tokens above [MASK] between [CLS] and [SEP], repeated forever."""
    rng = np.random.default_rng(FLAGS.seed)
    low = max(config.special_token_ids()) + 1
    token_ids = rng.integers(low, config.vocab_size, size=(4 * FLAGS.batch_size, FLAGS.seq_len), dtype=np.int32)
    token_ids[:, 0], token_ids[:, -1] = config.cls_token_id, config.sep_token_id
    features = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                "padding_mask": np.ones_like(token_ids)}
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(FLAGS.batch_size, drop_remainder=True)
    return dataset.repeat().prefetch(2)


def build(config: ElectraConfig, dataset: tf.data.Dataset, variant: Variant) -> Run:
    """A fresh pretrainer built as `variant` says, its train step compiled by a first step."""
    keras.utils.set_random_seed(FLAGS.seed)
    keras.mixed_precision.set_global_policy(variant.policy)
    try:
        generator_class = FullVocabLogitsGenerator if variant.full_vocab_logits else ElectraGenerator
        projection_class = keras.layers.EinsumDense if variant.keras_einsum_dense else TFEinsumDense
        pick_core = (attention.xla_core_pays_off if variant.xla_attention is None
                     else lambda: variant.xla_attention)
        with (mock.patch.object(pretrainer, "ElectraGenerator", generator_class),
              mock.patch.object(encoder, "TFEinsumDense", projection_class),
              mock.patch.object(attention, "xla_core_pays_off", pick_core),
              contextlib.nullcontext() if variant.fused else unfused()):  # built and traced in fit's first step
            model = pretrainer.ElectraPretrainer(config, seed=FLAGS.seed)
            model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=variant.jit_compile)
            start = time.perf_counter()
            history = model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # builds, traces, compiles
        return Run(model, iter(dataset), compile_s=time.perf_counter() - start,
                   first_loss=history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def add_utilisation(result: dict[str, Any], config: ElectraConfig, peaks: dict[str, float],
                    variant: Variant) -> None:
    """Adds the model's matmul FLOPs per token (bench/mfu.py; the generator head counted where it runs), the
    achieved model TFLOP/s and MFU against the matmul peak of the variant's compute dtype measured in this run."""
    slots = config.max_predictions(FLAGS.seq_len)
    head_positions = 1.0 if variant.full_vocab_logits else slots / FLAGS.seq_len
    flops_per_token = training_flops_per_token(config, generator_config(config), FLAGS.seq_len, head_positions)
    achieved = flops_per_token * result["tokens_per_s"]
    result.update({"model_flops_per_token": round(flops_per_token), "model_tflops": round(achieved / 1e12, 4),
                   "mfu": round(achieved / peaks[keras.DTypePolicy(variant.policy).compute_dtype], 4)})


def error_entry(error: Exception) -> dict[str, str]:
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # Keras bolds with terminal codes
    return {"error": f"{type(error).__name__}: {message[:1000]}"}


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.variants) - set(VARIANTS))
    if unknown:
        raise app.UsageError(f"Unknown variants {unknown}; choose among {list(VARIANTS)}.")
    total_start = time.perf_counter()
    config = ElectraConfig.from_preset(FLAGS.config)
    dataset = synthetic_dataset(config)
    results: dict[str, dict[str, Any]] = {}
    runs: dict[str, Run] = {}
    for name in FLAGS.variants:
        logging.info("Building and compiling %s ...", name)
        try:
            runs[name] = build(config, dataset, VARIANTS[name])
        except Exception as error:  # recorded, so the other variants still run
            logging.exception("Variant %s failed.", name)
            results[name] = error_entry(error)
    for round_index in range(FLAGS.warmup + FLAGS.steps):
        warming_up = round_index < FLAGS.warmup
        seconds: dict[str, float] = {}
        for name, run in list(runs.items()):
            if len(run.step_s) >= MIN_STEPS and sum(run.step_s) >= FLAGS.max_timed_s:
                continue
            try:
                seconds[name] = run.step()
            except Exception as error:
                logging.exception("Variant %s failed.", name)
                results[name] = error_entry(error)
                del runs[name]
                continue
            if not warming_up:
                run.step_s.append(seconds[name])
        if not seconds:
            break
        logging.info("%s round %d, step seconds: %s", "Warm-up" if warming_up else "Timed", round_index,
                     {name: round(value, 2) for name, value in seconds.items()})
    results.update({name: run.summary() for name, run in runs.items()})
    reference = results.get(REFERENCE, {}).get("tokens_per_s")
    for result in results.values():
        if reference and "tokens_per_s" in result:
            result["ratio"] = round(result["tokens_per_s"] / reference, 3)
    peaks = {dtype: matmul_peak_flops(dtype) for dtype in {keras.DTypePolicy(VARIANTS[name].policy).compute_dtype
                                                            for name in runs}}
    for name in runs:
        add_utilisation(results[name], config, peaks, VARIANTS[name])
    print(json.dumps({
        "benchmark": "electra_pretrain_train_step", "device": device_name(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "config": FLAGS.config,
        "vocab_size": config.vocab_size, "batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len,
        "mask_slots": config.max_predictions(FLAGS.seq_len), "steps": FLAGS.steps, "warmup": FLAGS.warmup,
        "max_timed_s": FLAGS.max_timed_s, "reference": REFERENCE,
        "peak_tflops": {dtype: round(flops / 1e12, 3) for dtype, flops in sorted(peaks.items())},
        "variants": {name: results[name] for name in FLAGS.variants},
        "total_s": round(time.perf_counter() - total_start, 1),
    }, indent=2))


if __name__ == "__main__":
    app.run(main)
