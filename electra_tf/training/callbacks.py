"""Keras callbacks for long runs: resumable checkpoints and throughput in the progress bar."""

from __future__ import annotations

import json
import pathlib
import sys
import time

import keras
import numpy as np

STATE_FILE = "state.json"


def progress_verbosity() -> int:
    """Keras's `verbose`: the progress bar on a terminal; one line per epoch otherwise, so that a redirected
    log of a long run stays readable."""
    return 1 if sys.stdout.isatty() else 2


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves everything a run needs to continue exactly, every epoch (= `steps_per_epoch` steps).

    A checkpoint is `checkpoints/step-<N>/`: `model.weights.h5` (model *and* optimizer state: moments, step
    counter), the random-number-generator states of dropout layers (Keras leaves them out of the weights), and
    `state.json` with the number of batches consumed, so the input pipeline can skip them. The newest `keep`
    checkpoints are kept. `restore_latest` loads the newest into a freshly built model.

    Args:
        directory: str or path. The run's `checkpoints/` folder.
        steps_per_epoch: int. Batches per Keras epoch: the checkpoint interval.
        keep: int. Checkpoints kept. Defaults to `2`.
    """

    def __init__(self, directory: str | pathlib.Path, steps_per_epoch: int, keep: int = 2):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.steps_per_epoch = steps_per_epoch
        self.keep = keep

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        step = (epoch + 1) * self.steps_per_epoch
        path = self.directory / f"step-{step}"
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(path / "model.weights.h5", overwrite=True)
        np.savez(path / "rng_states.npz", *[v.numpy() for v in _rng_states(self.model)])
        # Written last: a checkpoint without it is incomplete (interrupted while saving) and is ignored.
        (path / STATE_FILE).write_text(json.dumps({"step": step}))
        for old in checkpoints(self.directory)[:-self.keep]:
            for file in old.iterdir():
                file.unlink()
            old.rmdir()


def checkpoints(directory: str | pathlib.Path) -> list[pathlib.Path]:
    """Complete checkpoints in `directory`, oldest first."""
    directory = pathlib.Path(directory)
    found = [p for p in directory.glob("step-*") if (p / STATE_FILE).is_file()] if directory.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def restore_latest(model: keras.Model, directory: str | pathlib.Path) -> int:
    """Loads the newest intact checkpoint into a compiled `model`; returns its step (0 when there is none).

    A newest checkpoint that cannot be read is reported and the one before it is used.

    Raises:
        ValueError: no checkpoint can be read (corrupt, or not of this model).
    """
    found = checkpoints(directory)
    if not found:
        return 0
    model.optimizer.build(model.trainable_variables)  # its variables must exist to receive the saved state
    errors = []
    for path in reversed(found):
        try:
            model.load_weights(path / "model.weights.h5")
            states = np.load(path / "rng_states.npz")
        except (OSError, ValueError) as error:
            errors.append(f"{path}: {error}")
            print(f"Checkpoint {path} is corrupt or does not match this model ({error}); trying an older one.")
            continue
        for variable, key in zip(_rng_states(model), sorted(states.files, key=lambda k: int(k.split("_")[1]))):
            variable.assign(states[key])
        return json.loads((path / STATE_FILE).read_text())["step"]
    raise ValueError("No checkpoint could be restored: every one is corrupt or does not match this model: "
                     + "; ".join(errors))


def _rng_states(model: keras.Model) -> list[keras.Variable]:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


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
