"""Raw-text serving: latency and throughput of the exported SavedModel against the Keras model in process.

What is measured: an `ElectraClassifier` of the `--config` preset (random weights, 2 labels, the bundled
8000-token vocabulary, an `ElectraPreprocessor` of `--max_length` tokens) is exported with
`export_model` to a temporary directory (`export_s`) and loaded back with `tf.saved_model.load`
(`load_s`). Then, on SST-2 dev sentences (`--glue_dir`; the bundled sample corpus's lines when it is missing),
each given as a rank-1 `tf.string` tensor, these paths are timed:

  saved_model           the `serving_default` signature (tokenization, encoder, softmax, label names), as
                        TF Serving runs it; synchronised by reading `probabilities` back.
  keras_eager           `classifier(texts, training=False)` eagerly: the in-process reference. Its
                        preprocessor packs in keras-hub's pure-Python eager path.
  keras_tf_function     the same call wrapped in `tf.function` with a `[None]` string input signature (no
                        retracing across batch sizes), the usual way to make repeated Keras calls fast.
  preprocessor_eager    `classifier.preprocessor(texts)` alone, eagerly: keras_eager's tokenization.
  preprocessor_tf_function  the same in `tf.function`: the tokenization inside saved_model and
                        keras_tf_function.

Every path first answers `--warmup` untimed calls (`first_call_ms` is the first: tracing for the
tf.functions, graph set-up for the SavedModel). Latency: `--requests` calls at batch 1, one text per call,
the paths taking turns call by call so that background load hits them alike; `p50_ms`, `p99_ms` (the 99th
percentile: with 200 calls, about the second slowest) and `mean_ms`. Throughput: `--batches` batches of 32
texts (`--batch_size`), in turns likewise; `examples_per_s` = batch_size / the median batch time, `batch_ms`
that median, and `batch_ms_min_max`.

How to read it: `ratios` compares saved_model with each Keras path. For latency it is SavedModel ms / Keras
ms (below 1: the SavedModel answers sooner); for throughput SavedModel examples/s / Keras examples/s (above
1: the SavedModel is faster). `tokenization_share` divides the preprocessor's p50 latency and batch time by
the full path's (the tf.function preprocessor for saved_model and keras_tf_function, the eager one for
keras_eager). A batch is padded to its longest text (rounded up to 16) and the model skips that padding too
(packed inference), so the cost follows the texts' lengths;
`mean_tokens` is the mean length of the batch-1 texts, [CLS] and [SEP] included. `max_abs_diff_probabilities`
compares the SavedModel's probabilities with the softmax of the Keras logits on one batch: 0 or about 1e-6,
else the export is wrong. Compare numbers from one run only: other jobs on the machine move them.

Usage:
  python bench/serving.py > serving.json                            # ELECTRA-Small, about 2 minutes on 2 cores
  python bench/serving.py --config=tiny --requests=50 --batches=5   # quick check, about 15 seconds
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time

from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from common import (as_if_fine_tuned, device_name, latency, throughput, time_call,  # bench/common.py (on sys.path)
                    time_in_turns)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.glue import read_glue_tsv
from electra_tf.export.serving import export_model
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer

LABEL_NAMES = ["negative", "positive"]

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("max_length", 128, "Tokens per example (the preprocessor's sequence_length).", lower_bound=2)
flags.DEFINE_integer("requests", 200, "Timed batch-1 calls per path.", lower_bound=1)
flags.DEFINE_integer("batches", 20, "Timed batches per path for the throughput.", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Texts per batch for the throughput.", lower_bound=1)
flags.DEFINE_integer("warmup", 3, "Untimed calls per path before each measurement.", lower_bound=1)
flags.DEFINE_string("glue_dir", "/work/shared/data/glue", "GLUE root holding SST-2/dev.tsv.")
flags.DEFINE_integer("seed", 0, "Seed of the weights and of the text order.")


def load_texts() -> tuple[list[str], str]:
    """SST-2 dev sentences, or the sample corpus's non-blank lines when SST-2 is missing; and their source."""
    try:
        return read_glue_tsv("sst2", FLAGS.glue_dir, "dev").texts[0], "sst2_dev"
    except FileNotFoundError:
        logging.warning("No SST-2 dev set under %s: using the sample corpus.", FLAGS.glue_dir)
        lines = SAMPLE_CORPUS_FILE.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if line.strip()], "corpus_sample"


def main(argv: list[str]) -> None:
    del argv
    total_start = time.perf_counter()
    keras.utils.set_random_seed(FLAGS.seed)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = ElectraConfig.from_preset(FLAGS.config, vocab_size=tokenizer.vocab_size)
    classifier = ElectraClassifier(config, label_names=LABEL_NAMES,
                                   preprocessor=ElectraPreprocessor(tokenizer, sequence_length=FLAGS.max_length))
    texts, text_source = load_texts()
    np.random.default_rng(FLAGS.seed).shuffle(texts)
    classifier(texts[:1])  # builds the weights
    as_if_fine_tuned(classifier, FLAGS.seed)
    singles = [tf.constant([texts[i % len(texts)]]) for i in range(FLAGS.requests)]
    size = FLAGS.batch_size
    batches = [tf.constant([texts[(i * size + j) % len(texts)] for j in range(size)])
               for i in range(FLAGS.batches)]

    string_batch = [tf.TensorSpec([None], tf.string)]
    keras_function = tf.function(lambda t: classifier(t, training=False), input_signature=string_batch)
    preprocessor_function = tf.function(classifier.preprocessor, input_signature=string_batch)
    with tempfile.TemporaryDirectory() as export_dir:
        start = time.perf_counter()
        path = export_model(classifier, export_dir)
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        serving = tf.saved_model.load(str(path)).signatures["serving_default"]
        load_s = time.perf_counter() - start
        calls = {
            "saved_model": lambda t: serving(text=t)["probabilities"],
            "keras_eager": lambda t: classifier(t, training=False),
            "keras_tf_function": keras_function,
            "preprocessor_eager": lambda t: classifier.preprocessor(t)["token_ids"],
            "preprocessor_tf_function": lambda t: preprocessor_function(t)["token_ids"],
        }
        first_call_ms = {name: round(1000 * time_call(call, singles[0]), 1) for name, call in calls.items()}
        difference = np.abs(calls["saved_model"](batches[0]).numpy()
                            - tf.nn.softmax(classifier(batches[0], training=False)).numpy()).max()
        logging.info("Timing %d batch-1 requests per path ...", len(singles))
        latencies = {name: latency(s) for name, s in time_in_turns(calls, singles, FLAGS.warmup).items()}
        logging.info("Latency: %s", latencies)
        logging.info("Timing %d batches of %d per path ...", len(batches), size)
        throughputs = {name: throughput(s, size) for name, s in time_in_turns(calls, batches, FLAGS.warmup).items()}
        logging.info("Throughput: %s", throughputs)

    paths = {name: {"first_call_ms": first_call_ms[name], "batch_1": latencies[name],
                    f"batch_{size}": throughputs[name]} for name in calls}
    ratios = {keras_path: {
        "p50_ms": round(latencies["saved_model"]["p50_ms"] / latencies[keras_path]["p50_ms"], 3),
        "p99_ms": round(latencies["saved_model"]["p99_ms"] / latencies[keras_path]["p99_ms"], 3),
        "examples_per_s": round(throughputs["saved_model"]["examples_per_s"]
                                / throughputs[keras_path]["examples_per_s"], 3),
    } for keras_path in ("keras_eager", "keras_tf_function")}
    tokenization_share = {full: {
        "batch_1_p50": round(latencies[tokenize]["p50_ms"] / latencies[full]["p50_ms"], 3),
        f"batch_{size}": round(throughputs[tokenize]["batch_ms"] / throughputs[full]["batch_ms"], 3),
    } for full, tokenize in (("saved_model", "preprocessor_tf_function"),
                             ("keras_tf_function", "preprocessor_tf_function"),
                             ("keras_eager", "preprocessor_eager"))}
    lengths = [int(classifier.preprocessor(batch)["padding_mask"].numpy().sum()) for batch in singles]
    print(json.dumps({
        "benchmark": "electra_serving", "device": device_name(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "config": FLAGS.config, "vocab_size": config.vocab_size,
        "parameters": classifier.count_params(), "max_length": FLAGS.max_length, "texts": text_source,
        "mean_tokens": round(statistics.mean(lengths), 1), "requests": len(singles), "batches": len(batches),
        "batch_size": size, "warmup": FLAGS.warmup, "export_s": round(export_s, 1), "load_s": round(load_s, 1),
        "max_abs_diff_probabilities": float(difference), "paths": paths, "ratios": ratios,
        "tokenization_share": tokenization_share, "total_s": round(time.perf_counter() - total_start, 1),
    }, indent=2))


if __name__ == "__main__":
    app.run(main)
