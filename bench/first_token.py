"""A classifier's last block for [CLS] only (`ElectraEncoder(first_token_only=True)`) against the full last block.

An ELECTRA-Small classifier (`--config`, random weights, the bundled vocabulary) computes its logits two ways in
one process, the two taking turns batch by batch: `first_token_only`, as `ElectraClassifier` does (the last
block's queries, feed-forward and LayerNorms for [CLS] alone), and `full_last_block` (every position through the
last block, then [CLS] read off, as before). Workloads: forward passes and training steps (Adam, the same
weights for both variants) on batches of 32 x `--seq_len` random ids without padding and on batches of 32 SST-2
dev sentences padded to their longest (packed inside the encoder).

Per workload: the median milliseconds per batch of each variant and `speedup` = full / first-token (above 1:
first-token faster).

Usage:
  python bench/first_token.py > bench/results/first_token.json   # ELECTRA-Small, about 4 minutes on 2 CPU cores
  python bench/first_token.py --config=tiny --batches=2          # quick check
"""

from __future__ import annotations

import json
import statistics

from absl import app, flags
import keras
import numpy as np
import tensorflow as tf

from common import device_name, time_in_turns  # bench/common.py (on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.glue import GlueSplit, glue_dataset, read_glue_tsv
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text import SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_string("glue_dir", "/work/shared/data/glue", "GLUE root holding SST-2.")
flags.DEFINE_integer("batches", 12, "Timed batches per workload and variant.", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Length of the batches without padding.")
flags.DEFINE_integer("threads", 2, "Intra-op threads.")


def logits_function(model: ElectraClassifier, first_token_only: bool):
    def logits(inputs, training):
        if first_token_only:
            cls = model.encoder(inputs, training=training, first_token_only=True)
        else:
            cls = model.encoder(inputs, training=training)[:, 0]
        return model.logits(model.head_dropout(cls, training=training))
    return logits


def forward_call(logits):
    forward = tf.function(lambda inputs: logits(inputs, False), reduce_retracing=True)
    return lambda batch: forward(batch[0])


def training_call(model: ElectraClassifier, logits, optimizer: keras.optimizers.Optimizer):
    @tf.function(reduce_retracing=True)
    def step(inputs, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits(inputs, True),
                                                                               from_logits=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss
    return lambda batch: step(*batch)


def full_batches() -> list:
    ids = np.random.default_rng(0).integers(104, 8000, size=(32, FLAGS.seq_len)).astype("int32")
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    return [({name: tf.constant(value) for name, value in inputs.items()}, tf.zeros([32], tf.int32))] * FLAGS.batches


def sst2_batches(preprocessor: ElectraPreprocessor) -> list:
    data = read_glue_tsv("sst2", FLAGS.glue_dir, "dev")
    count = 32 * FLAGS.batches
    split = GlueSplit((data.texts[0][:count],), np.asarray(data.labels[:count], "int32"))
    return list(glue_dataset(split, preprocessor, 32, shuffle=False))


def main(argv: list[str]) -> None:
    del argv
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    keras.utils.set_random_seed(0)
    model = ElectraClassifier(ElectraConfig.from_preset(FLAGS.config, vocab_size=tokenizer.vocab_size), num_labels=2)
    optimizer = keras.optimizers.Adam(1e-5)
    optimizer.build(model.trainable_variables)
    variants = {"first_token_only": logits_function(model, True), "full_last_block": logits_function(model, False)}
    datasets = {"full": full_batches(), "sst2_dev": sst2_batches(ElectraPreprocessor(tokenizer, 128))}
    results = {}
    for data_name, batches in datasets.items():
        for kind in ("inference", "training"):
            calls = {name: forward_call(logits) if kind == "inference" else training_call(model, logits, optimizer)
                     for name, logits in variants.items()}
            for batch in batches:  # traces every shape
                for call in calls.values():
                    call(batch).numpy()
            seconds = time_in_turns(calls, batches, warmup=1)
            medians = {name: statistics.median(values) for name, values in seconds.items()}
            results[f"{kind}_{data_name}"] = {
                "batch_ms": {name: round(1000 * value, 1) for name, value in medians.items()},
                "speedup": round(medians["full_last_block"] / medians["first_token_only"], 3)}
    print(json.dumps({"benchmark": "first_token", "device": device_name(), "config": FLAGS.config,
                      "batches": FLAGS.batches, "workloads": results}, indent=2))


if __name__ == "__main__":
    app.run(main)
