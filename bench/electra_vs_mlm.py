"""The paper's central claim at this machine's scale: ELECTRA against masked-LM pre-training at equal compute, and
ELECTRA with gradient-disentangled embedding sharing (GDES, DeBERTa-v3).

    python bench/electra_vs_mlm.py --plot=bench/results/electra_vs_mlm.png > bench/results/electra_vs_mlm.json
                                                                          # 76 minutes on 2 CPU cores
    python bench/electra_vs_mlm.py --scale=8 ...                          # 8x the budget (a GPU job)

Arms, each the same encoder (`--config`, default the `tiny` preset: H=64, 2 layers) pre-trained from scratch on
`--train_files` (the shared public-domain English corpus) with the bundled 8,000-token vocabulary, batch
`--batch_size` x `--seq_len`, the same learning rate and 10% warm-up:
  mlm           BERT's masked LM (80% [MASK] / 10% random / 10% kept), `--objective mlm`
  electra       ELECTRA, generator 1/4 of the discriminator's width, tied embeddings (the paper)
  electra_gdes  ELECTRA with `--embedding_sharing gdes`

Equal compute: every arm gets the same budget of training FLOPs, counted by the paper's `flops_computation.py`
rules (`electra_tf.models.flops`): `--electra_steps` (times `--scale`) ELECTRA steps, and as many MLM steps as
cost the same (an MLM step is cheaper: no generator, no discriminator head). Each arm saves its model at
`--points` evenly spaced fractions of its budget (the last is the end of the run, one schedule throughout).

Fine-tuning: every saved model on SST-2, CoLA, MRPC, STS-B and RTE from `--glue_dir` (`run_finetuning`, the
paper's per-task settings except `--finetune_steps` steps per run and `--max_length`); the final models with
`--seeds` seeds, the intermediate ones with the first seed. Per arm and point the JSON has each task's dev
`score` (the GLUE headline metric, in percent: MCC for CoLA, accuracy for SST-2 and RTE, mean of accuracy and F1
for MRPC, of Pearson and Spearman for STS-B) as the median over seeds with the min and max, and `glue_average`
(the mean of the five medians) with the min and max of the per-seed averages as its spread. The PNG (`--plot`,
needs matplotlib: `pip install matplotlib` in the bench environment) draws the average against pre-training FLOPs
per arm. `majority` is each task's majority-class (or constant) baseline on dev, for scale.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import statistics
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
from electra_tf.models.flops import pretraining_flops_per_example
from electra_tf.tasks.glue import GlueFinetuning
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from electra_tf.training.pretrain import METADATA_FILE, PretrainingJob, run_pretraining

TASKS = ("sst2", "cola", "mrpc", "stsb", "rte")
ARMS = {"mlm": {"objective": "mlm"}, "electra": {"objective": "electra", "embedding_sharing": "tied"},
        "electra_gdes": {"objective": "electra", "embedding_sharing": "gdes"}}

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", "tiny", sorted(PRESETS), "ElectraConfig preset of every arm's encoder.")
flags.DEFINE_string("train_files", "/work/shared/data/pretrain-en/*/*.txt", "Glob of pre-training text files.")
flags.DEFINE_integer("electra_steps", 1200, "ELECTRA steps of the budget at --scale 1.", lower_bound=1)
flags.DEFINE_float("scale", 1.0, "Multiplies the budget (steps of every arm).", lower_bound=0.01)
flags.DEFINE_integer("points", 2, "Saved models per arm, evenly spaced in FLOPs (the last: the run's end).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Pre-training examples per step.", lower_bound=1)
flags.DEFINE_integer("seq_len", 128, "Pre-training tokens per example.", lower_bound=8)
flags.DEFINE_float("learning_rate", 1e-3, "Peak pre-training learning rate (every arm).")
flags.DEFINE_string("glue_dir", "/work/shared/data/glue", "GLUE tsv root (CoLA/, SST-2/, ...).")
flags.DEFINE_integer("finetune_steps", 250, "Fine-tuning steps per task and seed.", lower_bound=1)
flags.DEFINE_integer("max_length", 128, "Fine-tuning sequence length.", lower_bound=8)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Fine-tuning seeds of the final models.")
flags.DEFINE_list("arms", list(ARMS), "Arms to run.")
flags.DEFINE_string("plot", None, "Write the dev average against pre-training FLOPs to this PNG.")
flags.DEFINE_string("work_dir", None, "Directory for the models and runs; default a new temporary one.")


class SaveAtSteps(keras.callbacks.Callback):
    """Saves the pre-trainer as a model directory after given optimizer steps (`directories[step]`)."""

    def __init__(self, directories: dict[int, pathlib.Path], tokenizer: WordPieceTokenizer):
        super().__init__()
        self.directories = directories
        self.tokenizer = tokenizer

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations)
        if step in self.directories:
            self.model.save_pretrained(self.directories[step], self.tokenizer)


def arm_steps(config: ElectraConfig) -> dict[str, dict[str, float]]:
    """Each arm's steps and FLOPs per step for the budget of `--electra_steps` x `--scale` ELECTRA steps."""
    per_step = {objective: pretraining_flops_per_example(config, FLAGS.seq_len, objective) * FLAGS.batch_size
                for objective in ("electra", "mlm")}
    budget = per_step["electra"] * round(FLAGS.electra_steps * FLAGS.scale)
    return {arm: {"steps": round(budget / per_step[settings["objective"]]),
                  "flops_per_step": per_step[settings["objective"]]} for arm, settings in ARMS.items()}


def pretrain(arm: str, config: ElectraConfig, steps: int, work_dir: pathlib.Path) -> dict[str, Any]:
    """Pre-trains one arm, saving `--points` model directories; returns the run's numbers and the directories."""
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    point_steps = sorted({round(steps * (i + 1) / FLAGS.points) for i in range(FLAGS.points)})
    directories = {step: work_dir / arm / f"step_{step}" for step in point_steps[:-1]}
    output_dir = work_dir / arm / f"step_{steps}"
    job = PretrainingJob(
        source=CorpusSource(text_files=FLAGS.train_files), output_dir=str(output_dir), config=config,
        vocab=str(SAMPLE_VOCAB_FILE), num_steps=steps, batch_size=FLAGS.batch_size, seq_len=FLAGS.seq_len,
        learning_rate=FLAGS.learning_rate, warmup_steps=max(1, steps // 10), checkpoint_every=steps, seed=0,
        **ARMS[arm])
    start = time.perf_counter()
    run_pretraining(job, verbose=2, callbacks=[SaveAtSteps(directories, tokenizer)])
    wall_s = time.perf_counter() - start
    final = json.loads((output_dir / METADATA_FILE).read_text())["final_epoch_metrics"]
    return {"steps": steps, "wall_s": round(wall_s, 1),
            "final_metrics": {name: round(value, 4) for name, value in final.items()},
            "directories": {**directories, steps: output_dir}}


def finetune(model_dir: pathlib.Path, output_dir: pathlib.Path, seeds: tuple[int, ...]) -> dict[str, Any]:
    """Every task once per seed; per task the median, min and max score, and the average's spread over seeds."""
    tasks, per_seed = {}, {seed: {} for seed in seeds}
    for task in TASKS:
        job = FinetuningJob(model_dir=str(model_dir), output_dir=str(output_dir / task), seeds=seeds,
                            num_steps=FLAGS.finetune_steps, max_length=FLAGS.max_length)
        results = run_finetuning(GlueFinetuning(task, data_dir=FLAGS.glue_dir), job)
        scores = [run["dev"]["dev"]["score"] for run in results["runs"]]
        for seed, score in zip(seeds, scores):
            per_seed[seed][task] = score
        tasks[task] = {"score": round(statistics.median(scores), 2), "min": round(min(scores), 2),
                       "max": round(max(scores), 2)}
    averages = [glue_average(scores) for scores in per_seed.values()]
    return {"glue_average": round(glue_average({task: result["score"] for task, result in tasks.items()}), 2),
            "glue_average_min": round(min(averages), 2), "glue_average_max": round(max(averages), 2),
            "tasks": tasks}


def majority_baselines() -> dict[str, float]:
    """Each task's dev score when every prediction is the most frequent training label (STS-B: 0, a constant
    prediction has no correlation)."""
    from collections import Counter

    from electra_tf.evaluation.glue import glue_metrics

    baselines = {}
    for task in TASKS:
        reader = GlueFinetuning(task, data_dir=FLAGS.glue_dir)
        if task == "stsb":
            baselines[task] = 0.0
            continue
        most_frequent = Counter(reader.read("train").labels).most_common(1)[0][0]
        dev = reader.read("dev")
        baselines[task] = round(glue_metrics(task, [most_frequent] * len(dev.labels), dev.labels)["score"], 2)
    return baselines


def plot(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for arm, result in report["arms"].items():
        points = result["points"]
        flops = [point["pretraining_flops"] for point in points]
        averages = [point["glue_average"] for point in points]
        # The average of the task medians can lie outside the per-seed averages' range: no bar on that side.
        low = [max(0.0, point["glue_average"] - point["glue_average_min"]) for point in points]
        high = [max(0.0, point["glue_average_max"] - point["glue_average"]) for point in points]
        axes.errorbar(flops, averages, yerr=[low, high], marker="o", capsize=3, label=arm)
    axes.set_xlabel("pre-training FLOPs (flops_computation.py rules)")
    axes.set_ylabel("GLUE dev average (5 tasks)")
    axes.axhline(glue_average(report["majority"]), color="grey", linestyle=":", label="majority class")
    axes.set_title(f"ELECTRA vs masked LM at equal FLOPs: {report['config']} encoder", fontsize=10)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str]) -> None:
    del argv
    seeds = tuple(int(seed) for seed in FLAGS.seeds)
    unknown = sorted(set(FLAGS.arms) - set(ARMS))
    if unknown:
        raise app.UsageError(f"Unknown arms {unknown}; choose from {sorted(ARMS)}.")
    work_dir = pathlib.Path(FLAGS.work_dir or tempfile.mkdtemp(prefix="electra_vs_mlm_"))
    # The vocabulary's size, as the pre-training job sets it: the embedding and MLM-head FLOPs depend on it.
    config = ElectraConfig.from_preset(FLAGS.config, vocab_size=WordPieceTokenizer(SAMPLE_VOCAB_FILE).vocab_size)
    budget = arm_steps(config)
    total_start = time.perf_counter()
    arms = {}
    with contextlib.redirect_stdout(sys.stderr):  # Keras progress lines; stdout is for the JSON only
        for arm in FLAGS.arms:
            steps, flops_per_step = budget[arm]["steps"], budget[arm]["flops_per_step"]
            logging.info("Pre-training %s for %d steps ...", arm, steps)
            pretraining = pretrain(arm, config, steps, work_dir)
            points = []
            for step, model_dir in sorted(pretraining.pop("directories").items()):
                logging.info("Fine-tuning %s at step %d ...", arm, step)
                start = time.perf_counter()
                result = finetune(model_dir, work_dir / arm / f"glue_{step}", seeds if step == steps else seeds[:1])
                points.append({"step": step, "pretraining_flops": step * flops_per_step,
                               "finetuning_wall_s": round(time.perf_counter() - start, 1), **result})
            arms[arm] = {"pretraining": {**pretraining, "flops_per_step": flops_per_step,
                                         "flops": steps * flops_per_step, **ARMS[arm]},
                         "points": points, "final": points[-1]}
            logging.info("%s: GLUE average %.2f", arm, points[-1]["glue_average"])
        majority = majority_baselines()
    report = {
        "benchmark": "electra_vs_mlm", "device": device_name(),
        "date": time.strftime("%Y-%m-%d"), "tensorflow": tf.__version__, "keras": keras.__version__,
        "config": FLAGS.config, "train_files": FLAGS.train_files, "vocab": "bundled 8,000-token (uncased)",
        "pretraining": {"batch_size": FLAGS.batch_size, "seq_len": FLAGS.seq_len, "learning_rate": FLAGS.learning_rate,
                        "warmup": "10% of each arm's steps", "budget_flops": budget["electra"]["steps"]
                        * budget["electra"]["flops_per_step"], "scale": FLAGS.scale},
        "finetuning": {"steps_per_run": FLAGS.finetune_steps, "max_length": FLAGS.max_length, "seeds": list(seeds),
                       "intermediate_points_seeds": list(seeds[:1]), "other_settings": "the paper's per-task recipe"},
        "majority": majority, "arms": arms, "total_s": round(time.perf_counter() - total_start, 1),
        "work_dir": str(work_dir)}
    print(json.dumps(report, indent=2))
    if FLAGS.plot:
        plot(report, FLAGS.plot)


if __name__ == "__main__":
    app.run(main)
