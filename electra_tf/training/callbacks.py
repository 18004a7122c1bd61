"""Keras callbacks for training runs: throughput in the progress bar, the best epoch on dev, an exact step count
(checkpoints are in `electra_tf.training.checkpoints`)."""

from __future__ import annotations

import sys
import time

import keras
import numpy as np


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

    The metrics go into the epoch logs (prefixed `dev_`, so TensorBoard and History record them); at the end
    of training the model gets the weights of its best epoch by `score_key`, whose metrics are `best_metrics`.

    Args:
        evaluate: callable. `evaluate(model) -> dict[str, float]`, higher `score_key` is better.
        score_key: str. The metric that selects the best epoch. Defaults to `"score"`.
    """

    def __init__(self, evaluate, score_key: str = "score"):
        super().__init__()
        self.evaluate = evaluate
        self.score_key = score_key
        self.best_score = -np.inf
        self.best_epoch = -1
        self.best_metrics: dict[str, float] = {}
        self._best_weights = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = self.evaluate(self.model)
        if logs is not None:
            logs.update({f"dev_{name}": value for name, value in metrics.items()})
        score = metrics[self.score_key]
        if np.isfinite(score) and score > self.best_score or self._best_weights is None:
            self.best_score, self.best_epoch, self.best_metrics = score, epoch, metrics
            self._best_weights = self.model.get_weights()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


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
