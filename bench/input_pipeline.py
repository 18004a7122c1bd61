"""Can the input pipeline keep up with the pre-training step? Input rate vs. model consumption rate.

What is measured, on `--train_files` (default: the bundled ~1.7 MB sample corpus) tokenized with `--vocab`
(default: the bundled 8000-token vocabulary), in batches of `--batch_size` x `--seq_len`:

  pipelines.text_files  `pretraining_dataset` streaming the text files: reading, tokenizing and packing in
                        the pipeline, as `electra-tf pretrain --train_files` does.
  pipelines.tfrecords   `pretraining_dataset` reading TFRecord shards that `write_tfrecords` wrote once into
                        a temporary directory (`write_s`: what `electra-tf build-data` costs on this corpus).
  models.<preset>       `ElectraPretrainer.fit` steps (float32, no XLA, `create_optimizer`'s AdamW) on one
                        real batch kept in memory (`Dataset.from_tensors(batch).repeat()`), so no input cost.
                        The vocabulary size and special ids are the tokenizer's. `compile_s` is the first
                        one-step `fit` (building the optimizer, tracing the step), excluded from the rate.

Each pipeline's first batch is untimed (`first_batch_s`: it fills the 10,000-example shuffle buffer, which
on the sample corpus means tokenizing the whole corpus about four times); then up to `--pipeline_batches`
batches are timed, stopping early after `--max_pipeline_s`. Each model's first step of the timed `fit` is
untimed too; then up to `--model_steps` steps, stopping early after `--max_model_s`. Rates are
examples/s, batches/s and tokens/s (every position, padding included); `real_tokens_per_s` counts only the
non-padding ones.

How to read `ratios`: pipeline examples/s divided by a model's examples/s. Above 1 the input delivers faster
than the step consumes, so `fit` never waits for data; below 1 training is input-bound and runs at the
pipeline's rate. The two were measured one after the other: during training they share the CPU cores, and
the pipeline's background threads slow the step (and vice versa), so on a CPU-only machine a ratio near 1
is not enough; on a GPU/TPU host the step's rate rises and the ratio falls.

Usage:
  python bench/input_pipeline.py > input_pipeline.json    # about 2.5 minutes on 2 CPU cores
  python bench/input_pipeline.py --configs=tiny --pipeline_batches=50 --model_steps=10   # quick check
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from absl import app, flags, logging
import keras
import tensorflow as tf

from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.pretraining import (
    CorpusSource,
    build_examples,
    corpus_documents,
    pretraining_dataset,
    write_tfrecords,
)
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.training.optimization import create_optimizer
from common import device_name  # bench/common.py (the script's folder is on sys.path)

Batch = dict[str, tf.Tensor]

FLAGS = flags.FLAGS
flags.DEFINE_string("train_files", str(SAMPLE_CORPUS_FILE), "Glob of text files (the original format).")
flags.DEFINE_string("vocab", str(SAMPLE_VOCAB_FILE), "vocab.txt of the tokenizer.")
flags.DEFINE_integer("batch_size", 32, "Examples per batch.", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Tokens per example.", lower_bound=5)
flags.DEFINE_integer("pipeline_batches", 1000, "Timed batches per pipeline, at most.", lower_bound=1)
flags.DEFINE_float("max_pipeline_s", 30.0, "Seconds after which a pipeline stops being timed.")
flags.DEFINE_list("configs", ["tiny", "small"], f"Presets whose train step is timed, among {sorted(PRESETS)}.")
flags.DEFINE_integer("model_steps", 30, "Timed train steps per model, at most.", lower_bound=1)
flags.DEFINE_float("max_model_s", 40.0, "Seconds after which a model stops being timed.")
flags.DEFINE_integer("num_shards", 10, "TFRecord shards to write.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the pipelines and the models.")


def rates(batches: int, real_tokens: int, seconds: float) -> dict[str, float]:
    examples = batches * FLAGS.batch_size
    return {"examples_per_s": round(examples / seconds, 1), "batches_per_s": round(batches / seconds, 2),
            "tokens_per_s": round(examples * FLAGS.seq_len / seconds),
            "real_tokens_per_s": round(real_tokens / seconds), "timed_batches": batches,
            "timed_s": round(seconds, 2)}


def time_pipeline(source: CorpusSource, tokenizer: WordPieceTokenizer | None) -> tuple[dict[str, Any], Batch]:
    """The pipeline's delivery rate after its first batch, and that first batch."""
    dataset = pretraining_dataset(source, tokenizer, max_length=FLAGS.seq_len, batch_size=FLAGS.batch_size,
                                  seed=FLAGS.seed)
    start = time.perf_counter()
    iterator = iter(dataset)
    first = next(iterator)
    first_batch_s = time.perf_counter() - start
    batches = real_tokens = 0
    start = time.perf_counter()
    while batches < FLAGS.pipeline_batches and time.perf_counter() - start < FLAGS.max_pipeline_s:
        real_tokens += int(next(iterator)["padding_mask"].numpy().sum())
        batches += 1
    return {**rates(batches, real_tokens, time.perf_counter() - start),
            "first_batch_s": round(first_batch_s, 2)}, first


class StepClock(keras.callbacks.Callback):
    """Records when each train step ends; stops `fit` once `max_seconds` have passed since the first."""

    def __init__(self, max_seconds: float):
        super().__init__()
        self.max_seconds = max_seconds
        self.ends: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.ends.append(time.perf_counter())
        if self.ends[-1] - self.ends[0] >= self.max_seconds:
            self.model.stop_training = True


def time_model(preset: str, tokenizer: WordPieceTokenizer, batch: Batch) -> dict[str, Any]:
    """Examples/s of `fit` steps of a fresh pre-trainer on one in-memory batch, after compilation."""
    config = ElectraConfig.from_preset(
        preset, vocab_size=tokenizer.vocab_size, pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
        mask_token_id=tokenizer.mask_token_id)
    keras.utils.set_random_seed(FLAGS.seed)
    model = ElectraPretrainer(config, seed=FLAGS.seed)
    model.compile(optimizer=create_optimizer(5e-4, num_train_steps=10_000, warmup_steps=1_000))
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=1, shuffle=False, verbose=0)
    compile_s = time.perf_counter() - start
    clock = StepClock(FLAGS.max_model_s)
    model.fit(dataset, steps_per_epoch=FLAGS.model_steps + 1, shuffle=False, verbose=0, callbacks=[clock])
    steps = len(clock.ends) - 1  # from the end of the first step to the end of the last
    real_tokens = steps * int(batch["padding_mask"].numpy().sum())
    return {**rates(steps, real_tokens, clock.ends[-1] - clock.ends[0]),
            "step_ms": round(1000 * (clock.ends[-1] - clock.ends[0]) / steps, 1),
            "compile_s": round(compile_s, 1), "parameters": model.count_params()}


def main(argv: list[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.configs) - set(PRESETS))
    if unknown:
        raise app.UsageError(f"Unknown presets {unknown}; choose among {sorted(PRESETS)}.")
    total_start = time.perf_counter()
    tokenizer = WordPieceTokenizer(FLAGS.vocab)
    text_source = CorpusSource(text_files=FLAGS.train_files)
    pipelines: dict[str, dict[str, Any]] = {}
    logging.info("Timing the text-file pipeline ...")
    pipelines["text_files"], _ = time_pipeline(text_source, tokenizer)
    with tempfile.TemporaryDirectory() as shard_dir:
        logging.info("Writing TFRecord shards to %s ...", shard_dir)
        start = time.perf_counter()
        paths = write_tfrecords(build_examples(corpus_documents(text_source), tokenizer, FLAGS.seq_len,
                                               seed=FLAGS.seed), shard_dir, FLAGS.seq_len, FLAGS.num_shards)
        write_s = time.perf_counter() - start
        logging.info("Timing the TFRecord pipeline ...")
        record_rates, batch = time_pipeline(CorpusSource(tfrecords=os.path.join(shard_dir, "*.tfrecord")), None)
        pipelines["tfrecords"] = {
            **record_rates, "write_s": round(write_s, 2), "shards": len(paths),
            "examples_written": sum(1 for _ in tf.data.TFRecordDataset(paths)),
            "shard_mb": round(sum(os.path.getsize(p) for p in paths) / 2**20, 1)}
    models: dict[str, dict[str, Any]] = {}
    for preset in FLAGS.configs:
        logging.info("Timing the %s train step ...", preset)
        models[preset] = time_model(preset, tokenizer, batch)
        logging.info("%s: %s", preset, models[preset])
    ratios = {pipeline: {preset: round(result["examples_per_s"] / model["examples_per_s"], 2)
                         for preset, model in models.items()}
              for pipeline, result in pipelines.items()}
    print(json.dumps({
        "benchmark": "electra_input_pipeline", "device": device_name(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "train_files": FLAGS.train_files, "vocab_size": tokenizer.vocab_size,
        "batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len, "pipelines": pipelines, "models": models,
        "ratios": ratios, "total_s": round(time.perf_counter() - total_start, 1),
    }, indent=2))


if __name__ == "__main__":
    app.run(main)
