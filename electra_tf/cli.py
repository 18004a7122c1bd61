"""`electra-tf`: the command line. Each subcommand is a thin call into the package.

    electra-tf pretrain --config tiny --train_files 'corpus/*.txt' --vocab vocab.txt --output_dir runs/tiny
"""

from __future__ import annotations

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported: keep the CLI's output readable

from absl import app, flags  # noqa: E402

from electra_tf.config import PRESETS, ElectraConfig  # noqa: E402
from electra_tf.training.distribute import STRATEGIES  # noqa: E402

FLAGS = flags.FLAGS

# --- pretrain ---
flags.DEFINE_string("config", "small", f"A preset ({', '.join(PRESETS)}) or the path of a config JSON.")
flags.DEFINE_string("train_files", None, "Glob of text files: one sentence per line, blank line between documents.")
flags.DEFINE_string("vocab", None, "WordPiece vocab.txt.")
flags.DEFINE_boolean("lowercase", True, "Lower-case and strip accents (uncased vocabulary).")
flags.DEFINE_string("output_dir", None, "Model directory to write.")
flags.DEFINE_integer("num_steps", 1_000_000, "Optimizer updates.")
flags.DEFINE_integer("batch_size", 128, "Global batch size per update (split into --grad_accum_steps micro-batches).")
flags.DEFINE_integer("seq_len", 128, "Tokens per example.")
flags.DEFINE_float("learning_rate", 5e-4, "Peak learning rate.")
flags.DEFINE_integer("warmup_steps", 10_000, "Linear warm-up steps.")
flags.DEFINE_float("mask_prob", None, "Share of tokens masked; default: the config's (0.15, 0.25 for large).")
flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_enum("mixed_precision", None, ["mixed_bfloat16", "mixed_float16"], "Mixed-precision policy.")
flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_integer("grad_accum_steps", 1, "Micro-batches per update: same update, less activation memory.")
flags.DEFINE_integer("log_every", 100, "Steps between log lines.")
flags.DEFINE_integer("seed", 0, "Seed of data order, initialisation and masking.")


def load_config_flag(value: str) -> ElectraConfig:
    """A preset name or a JSON file path."""
    return ElectraConfig.from_preset(value) if value in PRESETS else ElectraConfig.from_json(value)


def pretrain(argv: list[str]) -> None:
    from electra_tf.training.pretrain import PretrainingJob, run_pretraining  # imports TensorFlow

    del argv
    for name in ("train_files", "vocab", "output_dir"):
        if not getattr(FLAGS, name):
            raise app.UsageError(f"--{name} is required.")
    config = load_config_flag(FLAGS.config)
    if FLAGS.mask_prob is not None:
        config = dataclasses.replace(config, mask_prob=FLAGS.mask_prob)
    run_pretraining(PretrainingJob(
        config=config, train_files=FLAGS.train_files, vocab=FLAGS.vocab, output_dir=FLAGS.output_dir,
        num_steps=FLAGS.num_steps, batch_size=FLAGS.batch_size, seq_len=FLAGS.seq_len,
        learning_rate=FLAGS.learning_rate, warmup_steps=FLAGS.warmup_steps, lowercase=FLAGS.lowercase,
        strategy=FLAGS.strategy, mixed_precision=FLAGS.mixed_precision, jit_compile=FLAGS.jit_compile,
        grad_accum_steps=FLAGS.grad_accum_steps, log_every=FLAGS.log_every, seed=FLAGS.seed))
    print(f"Saved the pre-trained model to {os.path.abspath(FLAGS.output_dir)}")


SUBCOMMANDS = {"pretrain": pretrain}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        sys.exit(f"usage: electra-tf {{{','.join(SUBCOMMANDS)}}} [--flags]; see electra-tf SUBCOMMAND --help")
    app.run(SUBCOMMANDS[argv[1]], argv=[f"{argv[0]} {argv[1]}", *argv[2:]])


if __name__ == "__main__":
    main()
