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
import os
import pathlib
import statistics
from typing import Any, Protocol, Sequence

import keras
import tensorflow as tf

from electra_tf.models.base import EncoderModel
from electra_tf.models.directory import read_config, read_task_info
from electra_tf.models.lora import LoraSettings, enable_lora, save_adapters
from electra_tf.models.registry import model_class
from electra_tf.training.callbacks import BestOnDev, StopAfterSteps, progress_verbosity
from electra_tf.training.checkpoints import StepCheckpoint, restore_latest
from electra_tf.training.distribute import get_strategy, is_chief, split_global_batches, written_by_chief
from electra_tf.training.optimization import create_optimizer
from electra_tf.training.recipes import FinetuningRecipe, finetuning_recipe

RESULTS_FILE = "results.json"
MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoints"
RUN_FILE = "run.json"  # a finished seed's record, next to its checkpoints


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
    checkpoint_every: int | None = None  # steps between checkpoints; None: at every epoch's end
    lora: LoraSettings | None = None  # train adapters and the head only (`electra_tf.models.lora`)

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


def run_finetuning(task: FinetuningTask, job: FinetuningJob,
                   callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Fine-tunes `task` once per seed, keeps each seed's best epoch on dev, saves the best seed's model to
    `output_dir/model`, predicts the test splits with it, and writes `results.json`; returns the results.

    Running the same job again resumes it: finished seeds are kept, and the seed in progress continues from its
    newest checkpoint (`output_dir/checkpoints/seed_<n>`, every `checkpoint_every` steps and on SIGTERM, which
    raises `electra_tf.training.checkpoints.Preempted`) with its best epoch so far. Under a multi-worker
    strategy every worker trains on its share of each global batch (the batches one process would train on) and
    scores dev data itself; only the chief writes into `output_dir`. `callbacks` are added to each seed's own.
    """
    # First: a multi-worker strategy must configure collective ops before TensorFlow initialises its context.
    strategy = get_strategy(job.strategy)
    with written_by_chief(pathlib.Path(job.output_dir), is_chief(strategy)) as write_dir:
        return _run_seeds(task, job, strategy, write_dir, callbacks)


@dataclasses.dataclass(frozen=True)
class _Schedule:
    """The steps of one seed's run."""

    steps_per_epoch: int
    total_steps: int

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def segments(self, start_step: int) -> list[tuple[int, int, int, int]]:
        """`(first step, steps per Keras epoch, first epoch, end epoch)` of the `fit` calls that train from
        `start_step`: a run resumed inside an epoch first finishes that epoch, so dev evaluations stay at epoch
        ends."""
        epoch, offset = divmod(start_step, self.steps_per_epoch)
        if start_step >= self.total_steps:
            return []
        if not offset:
            return [(start_step, self.steps_per_epoch, epoch, self.epochs)]
        rest = (epoch + 1) * self.steps_per_epoch
        return [(start_step, self.steps_per_epoch - offset, epoch, epoch + 1)] + self.segments(rest)


def _run_seeds(task: FinetuningTask, job: FinetuningJob, strategy: tf.distribute.Strategy,
               write_dir: pathlib.Path, callbacks: Sequence[keras.callbacks.Callback]) -> dict:
    recipe = job.recipe(task.name)
    train, devs = task.train_data(), task.dev_data()
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    schedule = _Schedule(steps_per_epoch, recipe.epochs * steps_per_epoch)
    if job.num_steps:  # exactly that many: the last epoch may be cut short (and is still evaluated)
        schedule = _Schedule(min(steps_per_epoch, job.num_steps), job.num_steps)
    selecting = next(iter(devs))
    runs, best_score = [], None
    for seed in job.seeds:
        seed_dir = os.path.join(job.output_dir, CHECKPOINT_DIR, f"seed_{seed}")  # the chief's: every worker reads
        run = _finished_run(seed_dir)
        if run is None:
            model, run = _train_seed(task, job, recipe, schedule, train, devs, strategy, seed, seed_dir, write_dir,
                                     callbacks)
            if best_score is None or run["dev"][selecting]["score"] > best_score:
                task.prepare_for_saving(model, run["dev"][selecting])
                model.save_pretrained(write_dir / MODEL_DIR)  # a LoRA model's merged: it exports as any other
                if job.lora:
                    save_adapters(model, write_dir / MODEL_DIR)
            if is_chief(strategy):  # written after the model: a finished seed's model is saved
                with tf.io.gfile.GFile(f"{seed_dir}/{RUN_FILE}", "w") as f:
                    f.write(json.dumps(run))
        else:
            print(f"Seed {seed} finished already (in {seed_dir}).")
        runs.append(run)
        if best_score is None or run["dev"][selecting]["score"] > best_score:
            best_score, best_seed = run["dev"][selecting]["score"], seed
    saved = write_dir / MODEL_DIR
    if not saved.is_dir():  # a non-chief worker resuming after every seed finished: the chief's model
        saved = pathlib.Path(job.output_dir) / MODEL_DIR
    best_model = model_class(read_task_info(saved)["task_type"]).from_pretrained(saved)
    results = {
        "task": task.name, "model_dir": str(job.model_dir), "seeds": list(job.seeds),
        "median": {split: _median([run["dev"][split] for run in runs]) for split in devs},
        "runs": runs, "saved_model": {"seed": best_seed, "path": str(write_dir / MODEL_DIR)},
        "settings": {**dataclasses.asdict(recipe), "epochs": schedule.epochs,
                     "steps_per_epoch": schedule.steps_per_epoch, "steps": schedule.total_steps,
                     "grad_accum_steps": job.grad_accum_steps, "replicas": strategy.num_replicas_in_sync,
                     "lora": dataclasses.asdict(job.lora) if job.lora else None, **task.settings()},
        "parameters": runs[0].get("parameters"),
        "test_predictions": task.write_predictions(best_model, write_dir, recipe.batch_size),
    }
    write_dir.mkdir(parents=True, exist_ok=True)
    (write_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _train_seed(task: FinetuningTask, job: FinetuningJob, recipe: FinetuningRecipe, schedule: _Schedule,
                train: Any, devs: dict[str, Any], strategy: tf.distribute.Strategy, seed: int, seed_dir: str,
                write_dir: pathlib.Path, callbacks: Sequence[keras.callbacks.Callback]) -> tuple[EncoderModel, dict]:
    """Trains (or resumes) one seed; returns the model with its best epoch's weights and the seed's record."""
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = task.new_model(job.model_dir, recipe.max_length)
        if job.lora:
            enable_lora(model, job.lora, job.model_dir)
        model.grad_accum_steps = job.grad_accum_steps
        model.compile(optimizer=create_optimizer(
            recipe.learning_rate, schedule.total_steps, int(recipe.warmup_proportion * schedule.total_steps),
            weight_decay=recipe.weight_decay, layerwise_lr_decay=recipe.layerwise_lr_decay,
            num_layers=model.config.num_hidden_layers, lr_multipliers=model.lr_multipliers()))
        step = restore_latest(model, seed_dir)
    if step:
        print(f"Seed {seed}: resumed from step {step} (checkpoint in {seed_dir}).")
    selecting = next(iter(devs))
    chief = is_chief(strategy)
    evaluation = BestOnDev(lambda m: task.evaluate(m, devs[selecting], recipe.batch_size), directory=seed_dir,
                           is_chief=chief)
    finished_epochs = math.ceil(step / schedule.steps_per_epoch)
    if evaluation.last_epoch < finished_epochs - 1:  # stopped between an epoch's last step and its evaluation
        evaluation.set_model(model)
        evaluation.on_epoch_end(finished_epochs - 1)
    checkpoint = StepCheckpoint(seed_dir, job.checkpoint_every or schedule.steps_per_epoch, start_step=step,
                                last_step=schedule.total_steps, is_chief=chief)
    batches = task.dataset(train, model, recipe.batch_size, shuffle=True, seed=seed).repeat()
    logs = keras.callbacks.TensorBoard(str(write_dir / "logs" / f"seed_{seed}"))
    with checkpoint.handling_sigterm():
        for first_step, steps_per_epoch, first_epoch, end_epoch in schedule.segments(step):
            model.fit(split_global_batches(strategy, batches.skip(first_step), recipe.batch_size),
                      initial_epoch=first_epoch, epochs=end_epoch, steps_per_epoch=steps_per_epoch, shuffle=False,
                      verbose=progress_verbosity(),
                      callbacks=[StopAfterSteps(schedule.total_steps - first_step), checkpoint, evaluation, logs,
                                 *callbacks])
    steps = int(model.optimizer.iterations.numpy())
    evaluation.restore_best(model)
    # The best epoch's selecting-split metrics are known already.
    dev = {selecting: evaluation.best_metrics, **{name: task.evaluate(model, data, recipe.batch_size)
                                                  for name, data in devs.items() if name != selecting}}
    return model, {"seed": seed, "best_epoch": evaluation.best_epoch + 1, "steps": steps, "dev": dev,
                   "parameters": _parameter_counts(model)}


def _parameter_counts(model: keras.Model) -> dict[str, float]:
    """How many weights the model has and how many of them train (LoRA: the adapters and the head)."""
    count = lambda variables: int(sum(math.prod(variable.shape) for variable in variables
                                      if "float" in str(variable.dtype)))  # not the dropout RNG states
    total, trainable = count(model.weights), count(model.trainable_weights)
    return {"total": total, "trainable": trainable, "trainable_share": trainable / total}


def _finished_run(seed_dir: str) -> dict | None:
    """The record of a seed that a previous run of the job finished, else None."""
    path = f"{seed_dir}/{RUN_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {metric: statistics.median(run[metric] for run in runs) for metric in runs[0]}
