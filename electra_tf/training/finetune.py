"""One fine-tuning runner for every task: the paper's recipe (AdamW, 10% warm-up, linear decay, layer-wise LR
decay) over seeds, the best epoch on dev kept, medians reported, the best seed's model saved.

A task (GLUE's is `electra_tf.tasks.glue.GlueFinetuning`) is a `FinetuningTask`: it reads its splits, builds
its model and datasets, scores a model on a split with one selecting `score`, and writes test predictions. The
runner does the rest (google-research/electra's `finetune/task.py` + `scorer.py`, keras-hub's `Task` and
Model Garden's `Task` split the work the same way). The paper reports medians over seeds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import shutil
import statistics
import tempfile
from typing import Any, Protocol

import keras
import tensorflow as tf

from electra_tf.models.base import EncoderModel
from electra_tf.models.directory import read_config
from electra_tf.training.callbacks import BestOnDev, StopAfterSteps, progress_verbosity
from electra_tf.training.distribute import get_strategy, is_chief, split_global_batches
from electra_tf.training.optimization import create_optimizer
from electra_tf.training.recipes import FinetuningRecipe, finetuning_recipe

RESULTS_FILE = "results.json"
MODEL_DIR = "model"


class FinetuningTask(Protocol):
    """What the runner needs of a task."""

    name: str

    def new_model(self, model_dir: str, sequence_length: int) -> EncoderModel:
        """The model to fine-tune, from a pre-trained (or converted) directory, with its preprocessor of
        `sequence_length` tokens and the task's labels."""

    def train_data(self) -> Any:
        """The training examples (`len` gives their number)."""

    def dev_data(self) -> dict[str, Any]:
        """The labelled development splits by name; the first selects epochs and seeds."""

    def dataset(self, data: Any, model: EncoderModel, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
        """Batches of `(inputs, labels)` made with the model's own preprocessor."""

    def evaluate(self, model: EncoderModel, data: Any, batch_size: int) -> dict[str, float]:
        """The task's metrics on labelled data, with the selecting one as `score` (higher is better)."""

    def prepare_for_saving(self, model: EncoderModel, dev_metrics: dict[str, float]) -> None:
        """Sets on the model what it learns from its selected epoch's dev metrics before it is saved (SQuAD 2.0's
        no-answer threshold); most tasks set nothing."""

    def write_predictions(self, model: EncoderModel, output_dir: pathlib.Path, batch_size: int) -> list[str]:
        """Predictions on the unlabelled test splits that exist, in the task's submission format; their paths."""

    def settings(self) -> dict[str, Any]:
        """Task settings worth recording in `results.json`."""


@dataclasses.dataclass(frozen=True)
class FinetuningJob:
    """One fine-tuning run over one or more seeds. None means the paper's value for the task and model size
    (`electra_tf.training.recipes`)."""

    model_dir: str  # a pre-trained (or converted) model directory
    output_dir: str
    num_epochs: int | None = None
    num_steps: int | None = None  # overrides num_epochs
    learning_rate: float | None = None
    layerwise_lr_decay: float | None = None
    batch_size: int | None = None
    max_length: int | None = None
    weight_decay: float | None = None
    warmup_proportion: float | None = None
    seeds: tuple[int, ...] = (0,)
    grad_accum_steps: int = 1  # micro-batches per update: batch_size is split, not multiplied
    strategy: str = "default"  # a `tf.distribute` strategy by name (`electra_tf.training.distribute`)

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("Give at least one seed.")
        if self.grad_accum_steps < 1:
            raise ValueError(f"grad_accum_steps must be >= 1, got {self.grad_accum_steps}.")

    def recipe(self, task: str) -> FinetuningRecipe:
        """The paper's recipe for `task` and the model's size, with this job's values where given."""
        paper = finetuning_recipe(task, read_config(self.model_dir))
        given = {"epochs": self.num_epochs, **{field.name: getattr(self, field.name)
                                               for field in dataclasses.fields(FinetuningRecipe)
                                               if field.name != "epochs"}}
        return dataclasses.replace(paper, **{key: value for key, value in given.items() if value is not None})


def run_finetuning(task: FinetuningTask, job: FinetuningJob) -> dict:
    """Fine-tunes `task` once per seed, keeps each seed's best epoch on dev, saves the best seed's model to
    `output_dir/model`, predicts the test splits with it, and writes `results.json`; returns the results.

    Under a multi-worker strategy every worker trains on its share of each global batch (the same batches one
    process would train on) and scores dev data itself; only the chief writes into `output_dir`.
    """
    # First: a multi-worker strategy must configure collective ops before TensorFlow initialises its context.
    strategy = get_strategy(job.strategy)
    chief = is_chief(strategy)
    output_dir = pathlib.Path(job.output_dir if chief else tempfile.mkdtemp(prefix="electra_tf_worker_"))
    try:
        return _run_seeds(task, job, strategy, output_dir)
    finally:
        if not chief:
            shutil.rmtree(output_dir, ignore_errors=True)


def _run_seeds(task: FinetuningTask, job: FinetuningJob, strategy: tf.distribute.Strategy,
               output_dir: pathlib.Path) -> dict:
    recipe = job.recipe(task.name)
    train, devs = task.train_data(), task.dev_data()
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    total_steps = recipe.epochs * steps_per_epoch
    if job.num_steps:  # exactly that many: the last epoch may be cut short (and is still evaluated)
        total_steps = job.num_steps
        steps_per_epoch = min(steps_per_epoch, total_steps)
    epochs = math.ceil(total_steps / steps_per_epoch)
    selecting = next(iter(devs))
    runs, best_score = [], None
    for seed in job.seeds:
        keras.utils.set_random_seed(seed)
        with strategy.scope():
            model = task.new_model(job.model_dir, recipe.max_length)
            model.grad_accum_steps = job.grad_accum_steps
            model.compile(optimizer=create_optimizer(
                recipe.learning_rate, total_steps, int(recipe.warmup_proportion * total_steps),
                weight_decay=recipe.weight_decay, layerwise_lr_decay=recipe.layerwise_lr_decay,
                num_layers=model.config.num_hidden_layers, lr_multipliers=model.lr_multipliers()))
        evaluation = BestOnDev(lambda m: task.evaluate(m, devs[selecting], recipe.batch_size))
        batches = task.dataset(train, model, recipe.batch_size, shuffle=True, seed=seed).repeat()
        model.fit(split_global_batches(strategy, batches, recipe.batch_size), epochs=epochs,
                  steps_per_epoch=steps_per_epoch, shuffle=False, verbose=progress_verbosity(),
                  callbacks=[StopAfterSteps(total_steps), evaluation,
                             keras.callbacks.TensorBoard(str(output_dir / "logs" / f"seed_{seed}"))])
        # The model now has its best epoch's weights, whose selecting-split metrics are known already.
        dev = {selecting: evaluation.best_metrics, **{name: task.evaluate(model, data, recipe.batch_size)
                                                      for name, data in devs.items() if name != selecting}}
        runs.append({"seed": seed, "best_epoch": evaluation.best_epoch + 1, "steps": int(model.optimizer.iterations.numpy()),
                     "dev": dev})
        if best_score is None or dev[selecting]["score"] > best_score:
            best_score, best_seed = dev[selecting]["score"], seed
            task.prepare_for_saving(model, dev[selecting])
            model.save_pretrained(output_dir / MODEL_DIR)
    best_model = type(model).from_pretrained(output_dir / MODEL_DIR)
    results = {
        "task": task.name, "model_dir": str(job.model_dir), "seeds": list(job.seeds),
        "median": {split: _median([run["dev"][split] for run in runs]) for split in devs},
        "runs": runs, "saved_model": {"seed": best_seed, "path": str(output_dir / MODEL_DIR)},
        "settings": {**dataclasses.asdict(recipe), "epochs": epochs, "steps_per_epoch": steps_per_epoch,
                     "steps": total_steps, "grad_accum_steps": job.grad_accum_steps,
                     "replicas": strategy.num_replicas_in_sync, **task.settings()},
        "test_predictions": task.write_predictions(best_model, output_dir, recipe.batch_size),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {metric: statistics.median(run[metric] for run in runs) for metric in runs[0]}
