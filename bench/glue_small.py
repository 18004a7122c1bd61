"""ELECTRA end to end at a fixed budget: pre-train on the shared English corpus, fine-tune on five GLUE tasks.

What is measured:
  pretraining  `run_pretraining` of the `--config` preset (default the paper's ELECTRA-Small) on `--train_files`
               (default the shared public-domain English corpus, 139 files, about 13.5 MB) with the bundled
               8000-token vocabulary (`--vocab`) or one learned from the corpus (`--learn_vocab_size`), for
               `--pretrain_steps` steps of `--batch_size` x `--seq_len` at `--learning_rate`, linear warm-up
               (`--warmup_steps`) and decay. `wall_s` is the whole call (vocabulary learning, building, tracing,
               checkpoints, saving); `tokens_per_s` = steps * batch_size * seq_len / wall_s (every position,
               padding included); `last_epoch_tokens_per_s` is the steady rate of the last 1000 steps (or of
               the whole run when shorter, first step included), from `training_metadata.json`.
  tasks        `run_finetuning` on SST-2, CoLA, MRPC, STS-B and RTE from `--glue_dir`, with the paper's per-task
               settings (3 epochs, 10 for RTE and STS-B; batch 32; LR 3e-4 for Small; layer-wise LR decay
               0.8), or `--finetune_steps` steps each, once per seed in `--seeds`. Per task: the dev metrics
               (median over seeds, in percent), `score` (the GLUE headline: MCC for CoLA, accuracy for SST-2
               and RTE, the mean of accuracy and F1 for MRPC, of Pearson and Spearman for STS-B), `wall_s`
               around `run_finetuning` (all seeds: loading, training, a dev evaluation per epoch, saving) and
               `examples_per_s` = seeds * epochs * steps_per_epoch * batch_size / wall_s (every batch
               counted as full: an epoch's partial last batch adds fewer than batch_size too many).
  glue_average `electra_tf.evaluation.glue.glue_average` of the five scores (not comparable with the paper's
               GLUE score, which also has MNLI, QNLI and QQP).

The defaults are a budget for one GPU: 20,000 steps of 128 x 128 are about two days on 2 CPU cores (about
2,000 tokens/s there, see pretrain_step.py), and fine-tuning then processes about 390,000 train examples per
seed. Runs are written under `--work_dir` (default a new temporary directory), which must not hold an earlier
run: a resumed run would time nothing.

Usage:
  python bench/glue_small.py > glue_small.json                       # ELECTRA-Small, 20k steps: a GPU job
  python bench/glue_small.py --config=tiny --pretrain_steps=50 --seq_len=64 --finetune_steps=20 \\
      --seeds=0                                                      # quick check, about 2 minutes on a CPU
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import sys
import tempfile
import time
from typing import Any

from absl import app, flags, logging
import keras
import tensorflow as tf

from common import device_name  # bench/common.py (the script's folder is on sys.path)
from electra_tf.config import PRESETS, ElectraConfig
from electra_tf.data.pretraining import CorpusSource
from electra_tf.evaluation.glue import glue_average
from electra_tf.text import SAMPLE_VOCAB_FILE
from electra_tf.tasks.glue import GlueFinetuning
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from electra_tf.training.pretrain import METADATA_FILE, PretrainingJob, run_pretraining

TASKS = ("sst2", "cola", "mrpc", "stsb", "rte")
CHECKPOINT_EVERY = 1000  # pre-training steps between checkpoints

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "small", sorted(PRESETS), "ElectraConfig preset.")
flags.DEFINE_string("train_files", "/work/shared/data/pretrain-en/*/*.txt", "Glob of pre-training text files.")
flags.DEFINE_string("vocab", str(SAMPLE_VOCAB_FILE), "vocab.txt of the tokenizer (unless --learn_vocab_size).")
flags.DEFINE_integer("learn_vocab_size", None, "Learn a WordPiece vocabulary of this size from the corpus "
                     "instead of using --vocab.", lower_bound=100)
flags.DEFINE_integer("pretrain_steps", 20_000, f"Pre-training steps: at most {CHECKPOINT_EVERY}, or a multiple "
                     "of it.", lower_bound=1)
flags.DEFINE_integer("batch_size", 128, "Pre-training examples per step (the paper's Small: 128).", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Pre-training tokens per example (the paper's Small: 128).", lower_bound=5)
flags.DEFINE_float("learning_rate", 5e-4, "Peak pre-training learning rate (the paper's Small: 5e-4).")
flags.DEFINE_integer("warmup_steps", None, "Pre-training warm-up steps; default the paper's 10,000, at most a "
                     "tenth of --pretrain_steps.", lower_bound=0)
flags.DEFINE_string("glue_dir", "/work/shared/data/glue", "GLUE tsv root (CoLA/, SST-2/, ...).")
flags.DEFINE_integer("finetune_steps", None, "Fine-tuning steps per task and seed instead of the paper's epochs.",
                     lower_bound=1)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Fine-tuning seeds; the dev metrics are their median.")
flags.DEFINE_string("work_dir", None, "Directory for the model and the runs; default a new temporary one.")


def pretrain(config: ElectraConfig, output_dir: pathlib.Path) -> dict[str, Any]:
    """Pre-trains into `output_dir`; returns the settings, times and final metrics."""
    warmup_steps = (FLAGS.warmup_steps if FLAGS.warmup_steps is not None
                    else min(10_000, FLAGS.pretrain_steps // 10))
    job = PretrainingJob(
        source=CorpusSource(text_files=FLAGS.train_files), output_dir=str(output_dir), config=config,
        vocab=None if FLAGS.learn_vocab_size else FLAGS.vocab, learn_vocab_size=FLAGS.learn_vocab_size,
        num_steps=FLAGS.pretrain_steps, batch_size=FLAGS.batch_size, seq_len=FLAGS.seq_len,
        learning_rate=FLAGS.learning_rate, warmup_steps=warmup_steps, checkpoint_every=CHECKPOINT_EVERY)
    start = time.perf_counter()
    pretrainer = run_pretraining(job, verbose=2)
    wall_s = time.perf_counter() - start
    final = json.loads((output_dir / METADATA_FILE).read_text())["final_epoch_metrics"]
    return {"steps": FLAGS.pretrain_steps, "batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len,
            "learning_rate": FLAGS.learning_rate, "warmup_steps": warmup_steps,
            "vocab_size": pretrainer.config.vocab_size,
            "vocab": f"learned, {FLAGS.learn_vocab_size}" if FLAGS.learn_vocab_size else FLAGS.vocab,
            "wall_s": round(wall_s, 1),
            "tokens_per_s": round(FLAGS.pretrain_steps * FLAGS.batch_size * FLAGS.seq_len / wall_s, 1),
            "last_epoch_tokens_per_s": round(final.pop("tokens_per_s"), 1),
            "final_metrics": {name: round(value, 4) for name, value in final.items()}}


def finetune(task: str, model_dir: pathlib.Path, output_dir: pathlib.Path, seeds: tuple[int, ...]) -> dict[str, Any]:
    """Fine-tunes `task` once per seed; returns its median dev metrics, settings and times."""
    job = FinetuningJob(model_dir=str(model_dir), output_dir=str(output_dir), num_steps=FLAGS.finetune_steps,
                        seeds=seeds)
    start = time.perf_counter()
    results = run_finetuning(GlueFinetuning(task, data_dir=FLAGS.glue_dir), job)
    wall_s = time.perf_counter() - start
    settings = results["settings"]
    examples = len(seeds) * settings["epochs"] * settings["steps_per_epoch"] * settings["batch_size"]
    dev = {metric: round(value, 2) for metric, value in results["median"]["dev"].items()}
    return {"score": dev.pop("score"), "dev": dev, "epochs": settings["epochs"],
            "steps_per_epoch": settings["steps_per_epoch"], "batch_size": settings["batch_size"],
            "learning_rate": settings["learning_rate"], "wall_s": round(wall_s, 1),
            "examples_per_s": round(examples / wall_s, 1)}


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.pretrain_steps > CHECKPOINT_EVERY and FLAGS.pretrain_steps % CHECKPOINT_EVERY:
        raise app.UsageError(f"--pretrain_steps above {CHECKPOINT_EVERY} must be a multiple of it.")
    seeds = tuple(int(seed) for seed in FLAGS.seeds)
    work_dir = pathlib.Path(FLAGS.work_dir or tempfile.mkdtemp(prefix="glue_small_"))
    if (work_dir / "pretrain").exists():
        raise app.UsageError(f"{work_dir} holds an earlier run; give a fresh --work_dir.")
    total_start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # Keras progress lines; stdout is for the JSON only
        logging.info("Pre-training %s for %d steps into %s ...", FLAGS.config, FLAGS.pretrain_steps, work_dir)
        pretraining = pretrain(ElectraConfig.from_preset(FLAGS.config), work_dir / "pretrain")
        tasks = {}
        for task in TASKS:
            logging.info("Fine-tuning %s ...", task)
            tasks[task] = finetune(task, work_dir / "pretrain", work_dir / "glue" / task, seeds)
    print(json.dumps({
        "benchmark": "electra_glue_small", "device": device_name(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "config": FLAGS.config, "train_files": FLAGS.train_files,
        "seeds": list(seeds), "finetune_steps": FLAGS.finetune_steps,
        "glue_average": round(glue_average({task: result["score"] for task, result in tasks.items()}), 2),
        "pretraining": pretraining, "tasks": tasks, "work_dir": str(work_dir),
        "total_s": round(time.perf_counter() - total_start, 1),
    }, indent=2))


if __name__ == "__main__":
    app.run(main)
