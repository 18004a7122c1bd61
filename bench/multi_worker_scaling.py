"""Pre-training throughput of one process against two multi-worker processes on this machine (127.0.0.1), the
same global batch, through the command line as a user runs them.

What is measured: `electra-tf pretrain` of the `--config` preset on the bundled corpus and vocabulary, `--steps`
steps of `--batch_size` x `--seq_len` tokens, logged every `--steps / 2` steps. The second logging interval's
`ms/step` (Keras's, printed per interval; the first interval holds tracing and the first step) gives
`tokens_per_s` = global batch x sequence length / step time (padding included: the same batches either way).
`single` is one process with `--strategy default`; `two_workers` is two processes with `--strategy multi_worker`
and `TF_CONFIG` on 127.0.0.1, each with its share of every global batch. `ratio` = two_workers / single.

On one host the two workers share its cores (and each defaults to all of them for its own thread pools) and add
an all-reduce of every gradient per step, so no speed-up is possible here: the ratio shows what multi-worker
costs; across hosts each worker brings its own cores or accelerators. Compare numbers from one run only.

Usage:
  python bench/multi_worker_scaling.py > multi_worker_scaling.json          # ELECTRA-Small, 8 x 128, 12 steps
  python bench/multi_worker_scaling.py --config=tiny --steps=40 --batch_size=16 --seq_len=64   # quick check
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

from absl import app, flags

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE  # noqa: E402  (after the path is set)
from electra_tf.training.distribute import local_cluster  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "small", "Model preset.")
flags.DEFINE_integer("steps", 12, "Training steps per run (two logging intervals).")
flags.DEFINE_integer("batch_size", 8, "Global batch size.")
flags.DEFINE_integer("seq_len", 128, "Tokens per example.")


def _launch(output_dir: str, tf_config: dict | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "electra_tf.cli", "pretrain", "--config", FLAGS.config,
               "--train_files", str(SAMPLE_CORPUS_FILE), "--vocab", str(SAMPLE_VOCAB_FILE),
               "--num_steps", str(FLAGS.steps), "--checkpoint_every", str(FLAGS.steps // 2),
               "--batch_size", str(FLAGS.batch_size), "--seq_len", str(FLAGS.seq_len), "--warmup_steps", "1",
               "--output_dir", output_dir]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    if tf_config is not None:
        command += ["--strategy", "multi_worker"]
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _step_ms(process: subprocess.Popen) -> float:
    """The last logging interval's ms/step of a finished run."""
    output, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(output[-3000:])
    value, unit = re.findall(r"(\d+(?:\.\d+)?)(ms|s)/step", output)[-1]
    return float(value) * (1000 if unit == "s" else 1)


def main(argv: list[str]) -> None:
    del argv
    tokens = FLAGS.batch_size * FLAGS.seq_len
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        step_ms = _step_ms(_launch(f"{scratch}/single", None))
        results["single"] = {"step_ms": step_ms, "tokens_per_s": tokens / step_ms * 1000}
        workers = [_launch(f"{scratch}/two", tf_config) for tf_config in local_cluster(2)]
        step_ms = max(_step_ms(worker) for worker in workers)  # the slower worker sets the pace
        results["two_workers"] = {"step_ms": step_ms, "tokens_per_s": tokens / step_ms * 1000}
    print(json.dumps({
        "config": FLAGS.config, "global_batch": FLAGS.batch_size, "seq_len": FLAGS.seq_len, "steps": FLAGS.steps,
        "cpu_cores": os.cpu_count(), **results,
        "ratio": results["two_workers"]["tokens_per_s"] / results["single"]["tokens_per_s"]}, indent=2))


if __name__ == "__main__":
    app.run(main)
