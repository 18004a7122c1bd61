"""Question answering served from raw text: questions/s of the exported SavedModel on real SQuAD dev questions,
against the Keras model's own decoding in process.

What is measured: an `ElectraQuestionAnswerer` of the `--config` preset (random weights, the original joint
head, the bundled 8000-token vocabulary, a `QuestionAnsweringPreprocessor` of `--max_length` tokens with the
original's question length 64 and stride 128) is exported with `export_model` (`export_s`) and loaded back with
`tf.saved_model.load` (`load_s`). On questions of `--squad_file` (SQuAD 1.1 dev by default, shuffled), these
paths are timed:

  saved_model        `serving_default(question, context)`: tokenization, windows, encoder, head, decoding over
                     every window and the answer's character offsets, as TF Serving runs it.
  keras_tf_function  `reader.answer` in `tf.function` with `[None]` string inputs: the same computation from
                     the Keras model in process, the reference.

Every path first answers `--warmup` untimed calls. Batch 1: `--requests` single questions, the paths taking
turns; `questions_per_s` = 1 / the median call. Batch `--batch_size`: `--batches` batches likewise;
`examples_per_s` from the median batch. `ratios` = SavedModel questions/s over Keras questions/s (1: no cost
to exporting). `mean_windows` is the windows per question at `--max_length` (a context longer than one window
costs a forward pass per window). `answers_identical` checks that both paths gave the same answers on one
batch. Compare numbers from one run only.

Usage:
  python bench/qa_serving.py > qa_serving.json                                 # ELECTRA-Small at 384 tokens
  python bench/qa_serving.py --config=tiny --max_length=128 --requests=20 --batches=3   # quick check
"""

from __future__ import annotations

import json
import tempfile
import time

from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from common import as_if_fine_tuned, device_name, latency, throughput, time_in_turns  # bench/common.py (on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.squad import read_squad
from electra_tf.export.serving import export_model
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.question_answering import QuestionAnsweringPreprocessor

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_integer("max_length", 384, "Tokens per window.", lower_bound=68)
flags.DEFINE_integer("requests", 100, "Timed batch-1 calls per path.", lower_bound=1)
flags.DEFINE_integer("batches", 10, "Timed batches per path.", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Questions per batch.", lower_bound=1)
flags.DEFINE_integer("warmup", 2, "Untimed calls per path before each measurement.", lower_bound=1)
flags.DEFINE_string("squad_file", "/work/shared/data/squad/v1.1/dev-v1.1.json.gz", "SQuAD JSON of the questions.")
flags.DEFINE_integer("seed", 0, "Seed of the weights and of the question order.")


def main(argv: list[str]) -> None:
    del argv
    total_start = time.perf_counter()
    keras.utils.set_random_seed(FLAGS.seed)
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = ElectraConfig.from_preset(FLAGS.config, vocab_size=tokenizer.vocab_size)
    preprocessor = QuestionAnsweringPreprocessor(tokenizer, FLAGS.max_length)
    reader = ElectraQuestionAnswerer(config, preprocessor=preprocessor)
    examples = read_squad(FLAGS.squad_file).examples
    np.random.default_rng(FLAGS.seed).shuffle(examples)
    batch = lambda first, size: tuple(tf.constant([getattr(examples[(first + i) % len(examples)], field)
                                                   for i in range(size)]) for field in ("question", "context"))
    singles = [batch(i, 1) for i in range(FLAGS.requests)]
    batches = [batch(FLAGS.requests + i * FLAGS.batch_size, FLAGS.batch_size) for i in range(FLAGS.batches)]
    strings = [tf.TensorSpec([None], tf.string)] * 2
    keras_answer = tf.function(reader.answer, input_signature=strings)
    keras_answer(*singles[0])  # builds the weights
    as_if_fine_tuned(reader, FLAGS.seed)
    with tempfile.TemporaryDirectory() as export_dir:
        start = time.perf_counter()
        path = export_model(reader, export_dir)
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        serving = tf.saved_model.load(str(path)).signatures["serving_default"]
        load_s = time.perf_counter() - start
        calls = {"saved_model": lambda qc: serving(question=qc[0], context=qc[1])["start"],
                 "keras_tf_function": lambda qc: keras_answer(*qc)["start"]}
        served, expected = serving(question=batches[0][0], context=batches[0][1]), keras_answer(*batches[0])
        identical = bool((served["answer"].numpy() == expected["answer"].numpy()).all())
        logging.info("Timing %d single questions per path ...", len(singles))
        single = {name: latency(s) for name, s in time_in_turns(calls, singles, FLAGS.warmup).items()}
        logging.info("Timing %d batches of %d per path ...", len(batches), FLAGS.batch_size)
        batched = {name: throughput(s, FLAGS.batch_size)
                   for name, s in time_in_turns(calls, batches, FLAGS.warmup).items()}
    windows = [len(preprocessor.encode(*b)["window_example"]) / FLAGS.batch_size for b in batches]
    paths = {name: {"batch_1": {**single[name], "questions_per_s": round(1000 / single[name]["p50_ms"], 1)},
                    f"batch_{FLAGS.batch_size}": batched[name]} for name in calls}
    ratios = {"batch_1": round(single["keras_tf_function"]["p50_ms"] / single["saved_model"]["p50_ms"], 3),
              f"batch_{FLAGS.batch_size}": round(batched["saved_model"]["examples_per_s"]
                                                 / batched["keras_tf_function"]["examples_per_s"], 3)}
    print(json.dumps({
        "benchmark": "electra_qa_serving", "device": device_name(), "tensorflow": tf.__version__,
        "config": FLAGS.config, "max_length": FLAGS.max_length, "squad_file": FLAGS.squad_file,
        "mean_windows": round(float(np.mean(windows)), 2), "requests": len(singles), "batches": len(batches),
        "batch_size": FLAGS.batch_size, "export_s": round(export_s, 1), "load_s": round(load_s, 1),
        "answers_identical": identical, "paths": paths, "ratios": ratios,
        "total_s": round(time.perf_counter() - total_start, 1)}, indent=2))


if __name__ == "__main__":
    app.run(main)
