"""GLUE fine-tuning with the paper's recipe: AdamW, 10% warm-up, linear decay, layer-wise LR decay.

One run per seed from the same pre-trained model; the best epoch on dev is kept per seed, the median over
seeds is reported (the paper reports medians), and the best seed's model is saved with test-set predictions
in the GLUE leaderboard format.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import statistics

import keras
import numpy as np

from electra_tf.data.glue import GlueSplit, GlueTask, double_unordered, get_task, glue_dataset, read_glue_tfds, read_glue_tsv
from electra_tf.evaluation.glue import glue_metrics, write_glue_predictions
from electra_tf.models import base
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.training.callbacks import BestOnDev
from electra_tf.training.optimization import create_optimizer

RESULTS_FILE = "results.json"


@dataclasses.dataclass(frozen=True)
class GlueJob:
    """One GLUE fine-tuning run (over one or more seeds). None means the paper's value for the task/size."""

    task: str
    model_dir: str  # a pre-trained (or converted) model directory
    output_dir: str
    data_dir: str | None = None  # the GLUE tsv root (CoLA/, SST-2/, ...); or use_tfds
    use_tfds: bool = False
    tfds_data_dir: str | None = None
    num_epochs: int | None = None  # 3; 10 for RTE and STS-B
    num_steps: int | None = None  # overrides num_epochs
    learning_rate: float | None = None  # 3e-4 small, 1e-4 base, 5e-5 large
    layerwise_lr_decay: float | None = None  # 0.8; 0.9 for large (24 layers)
    batch_size: int = 32
    max_length: int = 128
    weight_decay: float = 0.0  # the paper fine-tunes without weight decay
    warmup_proportion: float = 0.1
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        get_task(self.task)  # fails early, naming the valid tasks
        if not self.use_tfds and not self.data_dir:
            raise ValueError("Give the GLUE data directory (data_dir) or use TFDS (use_tfds).")
        if not self.seeds:
            raise ValueError("Give at least one seed.")


def paper_learning_rate(hidden_size: int) -> float:
    """Fine-tuning LR of the paper by model width: Small 3e-4, Base 1e-4, Large 5e-5."""
    return 5e-5 if hidden_size >= 1024 else 1e-4 if hidden_size >= 768 else 3e-4


def run_glue(job: GlueJob) -> dict:
    """Fine-tunes, evaluates on dev, predicts test, and writes `results.json`; returns the results."""
    task = get_task(job.task)
    output_dir = pathlib.Path(job.output_dir)
    config = base.load_config(job.model_dir)
    tokenizer = base.load_tokenizer(job.model_dir)
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=job.max_length)
    train = _read(job, task, "train")
    if task.double_unordered:
        train = double_unordered(train)
    devs = {file.split: _read(job, task, file.split) for file in task.files
            if not file.is_test and file.split != "train"}
    steps_per_epoch = math.ceil(len(train) / job.batch_size)
    if job.num_steps:
        steps_per_epoch = min(steps_per_epoch, job.num_steps)
        epochs = max(1, round(job.num_steps / steps_per_epoch))
    else:
        epochs = job.num_epochs or task.epochs
    learning_rate = job.learning_rate or paper_learning_rate(config.hidden_size)
    decay = job.layerwise_lr_decay or (0.9 if config.num_hidden_layers >= 24 else 0.8)

    selecting = next(iter(devs))  # the split that selects epochs and seeds (dev; MNLI: dev_matched)
    others = {name: split for name, split in devs.items() if name != selecting}
    runs, best = [], None
    for seed in job.seeds:
        keras.utils.set_random_seed(seed)
        model = ElectraClassifier.from_pretrained(job.model_dir, num_labels=task.num_classes)
        total_steps = epochs * steps_per_epoch
        model.compile(optimizer=create_optimizer(
            learning_rate, total_steps, int(job.warmup_proportion * total_steps), weight_decay=job.weight_decay,
            layerwise_lr_decay=decay, num_layers=config.num_hidden_layers))
        evaluation = BestOnDev(lambda m: _evaluate(m, task, {selecting: devs[selecting]}, preprocessor,
                                                   job.batch_size)[selecting])
        model.fit(glue_dataset(train, preprocessor, job.batch_size, shuffle=True, seed=seed).repeat(),
                  epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=2,
                  callbacks=[evaluation, keras.callbacks.TensorBoard(str(output_dir / "logs" / f"seed_{seed}"))])
        # The model now has its best epoch's weights; that epoch's selecting-split metrics are known already.
        dev_metrics = {selecting: evaluation.best_metrics, **_evaluate(model, task, others, preprocessor,
                                                                        job.batch_size)}
        runs.append({"seed": seed, "best_epoch": evaluation.best_epoch + 1, "dev": dev_metrics})
        score = dev_metrics[selecting]["score"]
        if best is None or score > best[0]:
            best = (score, seed)
            model.save_pretrained(output_dir / "model", config, tokenizer, label_names=task.label_names,
                                  task=task.name, text_pair=task.is_pair)

    results = {
        "task": task.name, "model_dir": str(job.model_dir), "seeds": list(job.seeds),
        "median": {split: _median([run["dev"][split] for run in runs]) for split in devs},
        "runs": runs, "saved_model": {"seed": best[1], "path": str(output_dir / "model")},
        "settings": {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "learning_rate": learning_rate,
                     "layerwise_lr_decay": decay, "batch_size": job.batch_size, "max_length": job.max_length,
                     "weight_decay": job.weight_decay, "double_unordered": task.double_unordered},
    }
    results["test_predictions"] = _predict_tests(job, task, output_dir, preprocessor)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _read(job: GlueJob, task: GlueTask, split: str) -> GlueSplit:
    if job.use_tfds:
        return read_glue_tfds(task, split, job.tfds_data_dir, allow_empty=task.name == "qqp")
    return read_glue_tsv(task, job.data_dir, split, allow_empty=task.name == "qqp")


def _predict(model: keras.Model, split: GlueSplit, preprocessor, batch_size: int) -> np.ndarray:
    return model.predict(glue_dataset(GlueSplit(split.texts), preprocessor, batch_size, shuffle=False), verbose=0)


def _evaluate(model, task, devs, preprocessor, batch_size) -> dict[str, dict[str, float]]:
    return {name: glue_metrics(task, _predict(model, split, preprocessor, batch_size), split.labels)
            for name, split in devs.items()}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {metric: statistics.median(run[metric] for run in runs) for metric in runs[0]}


def _predict_tests(job: GlueJob, task: GlueTask, output_dir: pathlib.Path, preprocessor) -> list[str]:
    """Leaderboard files from the saved model for each test split that is available; returns their paths."""
    model = ElectraClassifier.from_pretrained(output_dir / "model")
    written = []
    for file in task.files:
        if not file.is_test:
            continue
        try:
            split = _read(job, task, file.split)
        except FileNotFoundError:
            continue  # the GLUE test files are optional
        predictions = _predict(model, split, preprocessor, job.batch_size)
        written.append(str(write_glue_predictions(task, split.indices, predictions, output_dir / "predictions",
                                                  split=file.split)))
    return written
