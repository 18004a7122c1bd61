"""Packed tokens against the padded layout: what skipping padding inside the encoder saves, and what it costs.

An ELECTRA-Small classifier (`--config`, random weights, the bundled vocabulary) runs each workload twice in one
process, packed (the encoder's default outside XLA: `electra_tf/layers/packing.py`) and padded (the packing
switched off), the two taking turns batch by batch:

  inference_sst2_dev    forward passes over batches of 32 SST-2 dev sentences in the file's order, each padded
                        to its longest (rounded up to 16), as the exported SavedModel serves them;
  finetune_sst2_train   training steps over shuffled batches of 32 SST-2 train sentences, padded likewise;
  inference_full, finetune_full   the same on batches of 32 x `--seq_len` random ids without padding: the
                        packing's own cost.

Per workload: the median seconds over `--rounds` passes of its batches for each variant, `padding_share` (the
padding positions' share of the batches), and `speedup` = padded / packed (above 1: packing is faster).

Usage:
  python bench/packing.py > bench/results/packing.json       # ELECTRA-Small, about 11 minutes on 2 CPU cores
  python bench/packing.py --config=tiny --batches=2 --rounds=1   # quick check
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Callable
from unittest import mock

from absl import app, flags
import keras
import numpy as np
import tensorflow as tf

from common import device_name  # bench/common.py (on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.glue import GlueSplit, glue_dataset, read_glue_tsv
from electra_tf.layers import encoder as encoder_module
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text import SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer
from electra_tf.training.optimization import create_optimizer

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_string("glue_dir", "/work/shared/data/glue", "GLUE root holding SST-2.")
flags.DEFINE_integer("batches", 20, "Batches of 32 per workload.", lower_bound=1)
flags.DEFINE_integer("rounds", 3, "Timed passes over the batches per variant.", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Length of the unpadded batches.")
flags.DEFINE_integer("threads", 2, "Intra-op threads.")


def classifier(config: ElectraConfig, tokenizer: WordPieceTokenizer) -> ElectraClassifier:
    keras.utils.set_random_seed(0)
    model = ElectraClassifier(config, num_labels=2, preprocessor=ElectraPreprocessor(tokenizer, 128))
    model.compile(optimizer=create_optimizer(1e-4, 1000, 10),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def padded(step: Callable) -> Callable:
    """`step` with the encoder's packing switched off in whatever it traces."""
    def run_padded(*args):
        with mock.patch.object(encoder_module, "packing_pays_off", lambda: False):
            return step(*args)
    return run_padded


def sst2_batches(preprocessor: ElectraPreprocessor, split: str, shuffle: bool) -> list:
    data = read_glue_tsv("sst2", FLAGS.glue_dir, split)
    count = 32 * FLAGS.batches
    split_data = GlueSplit((data.texts[0][:count],), np.asarray(data.labels[:count], "int32"))
    return list(glue_dataset(split_data, preprocessor, 32, shuffle=shuffle, seed=0))


def full_batches() -> list:
    ids = np.random.default_rng(0).integers(104, 8000, size=(32, FLAGS.seq_len)).astype("int32")
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    return [(inputs, np.zeros(32, "int32"))] * FLAGS.batches


def step_function(model: ElectraClassifier, training: bool) -> Callable:
    if training:
        return model.train_on_batch
    forward = tf.function(lambda x: model(x, training=False))
    return lambda x, y: forward(x).numpy()


def run(models: dict, batches: list, training: bool) -> dict:
    """Median seconds per pass over `batches` for each variant, the variants taking turns batch by batch."""
    steps = {"packed": step_function(models["packed"], training),
             "padded": padded(step_function(models["padded"], training))}
    for x, y in batches:  # traces every shape
        for step in steps.values():
            step(x, y)
    seconds = {name: [] for name in steps}
    for _ in range(FLAGS.rounds):
        totals = dict.fromkeys(steps, 0.0)
        for x, y in batches:
            for name, step in steps.items():
                start = time.perf_counter()
                step(x, y)
                totals[name] += time.perf_counter() - start
        for name, total in totals.items():
            seconds[name].append(total)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    masks = np.concatenate([np.asarray(x["padding_mask"]).ravel() for x, _ in batches])
    return {"seconds": {name: round(value, 3) for name, value in medians.items()},
            "padding_share": round(1 - float(masks.mean()), 3),
            "speedup": round(medians["padded"] / medians["packed"], 3)}


def main(argv: list[str]) -> None:
    del argv
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = ElectraConfig.from_preset(FLAGS.config, vocab_size=tokenizer.vocab_size)
    models = {name: classifier(config, tokenizer) for name in ("packed", "padded")}
    preprocessor = models["packed"].preprocessor
    results = {}
    for name, batches, training in (
            ("inference_sst2_dev", sst2_batches(preprocessor, "dev", shuffle=False), False),
            ("finetune_sst2_train", sst2_batches(preprocessor, "train", shuffle=True), True),
            ("inference_full", full_batches(), False), ("finetune_full", full_batches(), True)):
        results[name] = run(models, batches, training)
    print(json.dumps({"benchmark": "packing", "device": device_name(), "config": FLAGS.config,
                      "batches": FLAGS.batches, "rounds": FLAGS.rounds, "workloads": results}, indent=2))


if __name__ == "__main__":
    app.run(main)
