"""Keras callbacks for training runs: throughput in the progress bar, the best epoch on dev, an exact step count
(checkpoints are in `electra_tf.training.checkpoints`)."""

from __future__ import annotations

import json
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from electra_tf.models import lora

BEST_WEIGHTS_FILE = "best.weights.h5"
BEST_STATE_FILE = "best.json"


def progress_verbosity() -> int:
    """Keras's `verbose`: the progress bar on a terminal; one line per epoch otherwise, so that a redirected
    log of a long run stays readable."""
    return 1 if sys.stdout.isatty() else 2


class Throughput(keras.callbacks.Callback):
    """Adds `tokens_per_s` to the logs (so the progress bar, History and TensorBoard show it): real tokens,
    padding excluded, per second. The model counts them in its `real_tokens` metric (cumulative over the
    epoch), which this callback takes out of the logs. The epoch's figure leaves out the first step of a `fit`,
    which traces (and with XLA compiles) the step.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._first_step = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._counted = 0.0  # the epoch's real tokens so far
        self._excluded = (0.0, 0.0)  # tokens and seconds of the compiling step

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        counted = float(logs.pop("real_tokens"))
        tokens, self._counted = counted - self._counted, counted
        logs["tokens_per_s"] = tokens / max(now - self._batch_start, 1e-9)
        if self._first_step:
            self._first_step = False
            self._excluded = (tokens, now - self._epoch_start)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        tokens = float(logs.pop("real_tokens"))
        seconds = time.perf_counter() - self._epoch_start
        if tokens > self._excluded[0]:  # more than the compiling step: leave it out
            tokens, seconds = tokens - self._excluded[0], seconds - self._excluded[1]
        logs["tokens_per_s"] = tokens / max(seconds, 1e-9)


class BestOnDev(keras.callbacks.Callback):
    """Evaluates on development data after every epoch, logs the metrics, and keeps the best weights.

    The metrics go into the epoch logs (prefixed `dev_`, so TensorBoard and History record them);
    `restore_best(model)` gives the model the weights of its best epoch by `score_key`, whose metrics are
    `best_metrics`. With a `directory` (a run that can resume), the chief keeps the best weights and metrics
    there, so that a resumed run knows its best epoch so far; otherwise they are kept in memory.

    Args:
        evaluate: callable. `evaluate(model) -> dict[str, float]`, higher `score_key` is better.
        score_key: str. The metric that selects the best epoch. Defaults to `"score"`.
        directory: str or None. Where the best epoch is kept (any `tf.io.gfile` path). Defaults to `None`.
        is_chief: bool. Whether this worker writes into `directory`. Defaults to `True`.
    """

    def __init__(self, evaluate, score_key: str = "score", directory: str | None = None, is_chief: bool = True):
        super().__init__()
        self.evaluate = evaluate
        self.score_key = score_key
        self.directory = directory
        self.is_chief = is_chief
        self.best_score, self.best_epoch, self.best_metrics = -np.inf, -1, {}
        self.last_epoch = -1  # the newest epoch evaluated
        self._best_weights = None
        if directory and tf.io.gfile.exists(f"{directory}/{BEST_STATE_FILE}"):
            with tf.io.gfile.GFile(f"{directory}/{BEST_STATE_FILE}") as f:
                state = json.loads(f.read())
            self.best_score, self.best_epoch, self.best_metrics = state["score"], state["epoch"], state["metrics"]
            self.last_epoch = state["last_epoch"]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = self.evaluate(self.model)
        if logs is not None:
            logs.update({f"dev_{name}": value for name, value in metrics.items()})
        score = metrics[self.score_key]
        self.last_epoch = epoch
        improved = np.isfinite(score) and score > self.best_score or self.best_epoch < 0
        if improved:
            self.best_score, self.best_epoch, self.best_metrics = score, epoch, metrics
        if self.directory is None or not self.is_chief:
            if improved:
                self._best_weights = self.model.get_weights()
            return
        tf.io.gfile.makedirs(self.directory)
        if improved:
            lora.save_weights(self.model, f"{self.directory}/{BEST_WEIGHTS_FILE}")
        with tf.io.gfile.GFile(f"{self.directory}/{BEST_STATE_FILE}", "w") as f:  # last: the weights are whole
            f.write(json.dumps({"score": self.best_score, "epoch": self.best_epoch, "metrics": self.best_metrics,
                                "last_epoch": epoch}))

    def restore_best(self, model: keras.Model) -> None:
        """Gives `model` the weights of the best epoch seen (by this run or, resumed, the run before it)."""
        if self._best_weights is not None:
            model.set_weights(self._best_weights)
        elif self.best_epoch >= 0:
            lora.load_weights(model, f"{self.directory}/{BEST_WEIGHTS_FILE}")


class StopAfterSteps(keras.callbacks.Callback):
    """Ends training after exactly `steps` batches, inside an epoch if need be (its `on_epoch_end`, e.g. a dev
    evaluation, still runs), so a run of N steps is N steps whatever the epoch length.

    Args:
        steps: int. Batches to train in all.
    """

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self._done = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._done = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._done += 1
        if self._done >= self.steps:
            self.model.stop_training = True
