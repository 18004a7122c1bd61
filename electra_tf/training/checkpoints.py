"""Checkpoints that let a long run continue exactly: every N steps, at the step a preemption signal arrives, on
any file system TensorFlow reaches (local, `gs://`, ...), written by the chief worker only.

A checkpoint is `<directory>/step-<N>/`: `model.weights.h5` (model *and* optimizer state: moments, step
counter), `rng_states.npz` (the dropout layers' random-number-generator states, which Keras leaves out of the
weights), for a LoRA model `model.weights.h5.lora.npz` (its base kernels and adapters, which Keras's file lacks:
`electra_tf.models.lora`) and, written last, `state.json` with the step. A folder without `state.json` was
interrupted while being written and is ignored, so a checkpoint is whole or absent even on object stores (which
cannot rename a folder atomically). The input pipeline resumes by skipping the `step` batches already consumed.

Keras's `BackupAndRestore` restores whole epochs and replays the interrupted one; here an epoch is only a
logging interval, and a run restarts at the exact step of its newest checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import threading
from typing import Iterator

import keras
import numpy as np
import tensorflow as tf

from electra_tf.models import lora
from electra_tf.training.distribute import written_by_chief

STATE_FILE = "state.json"
WEIGHTS_FILE = "model.weights.h5"
RNG_FILE = "rng_states.npz"
# Exit status of a run stopped by a preemption signal after saving: the one TensorFlow's
# `PreemptionCheckpointHandler` uses, so a cluster's restart policy can tell "saved, restart me" from a failure.
PREEMPTED_EXIT_CODE = 42


class Preempted(Exception):
    """Training stopped on SIGTERM after saving a checkpoint at `step`; running the same job again continues."""

    def __init__(self, step: int):
        super().__init__(f"Preempted (SIGTERM): checkpoint saved at step {step}; run the same command again to "
                         "continue from it.")
        self.step = step


class StepCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint every `every` steps, at `last_step`, and, when training runs within
    `handling_sigterm()`, at the step during which SIGTERM arrives, then raises `Preempted` out of `fit` (no
    epoch-end work runs on a cut epoch).

    Under multi-worker training every worker must take part in saving (reading distributed variables may need
    them all), so every worker saves, but only the chief into `directory`: the others write into a temporary
    folder that is removed at once, as TensorFlow's multi-worker guide does. Workers agree on a preemption
    (any worker's SIGTERM stops all of them at the same step) through one all-reduce per step.

    Args:
        directory: str. The run's checkpoints folder (a local path or any `tf.io.gfile` URL).
        every: int. Steps between checkpoints.
        start_step: int. The step training starts from (the restored checkpoint's).
        last_step: int. The run's final step, always saved.
        is_chief: bool. Whether this worker writes into `directory`. Defaults to `True`.
        keep: int. Newest checkpoints kept. Defaults to `2`.
    """

    def __init__(self, directory: str, every: int, start_step: int, last_step: int, is_chief: bool = True,
                 keep: int = 2):
        super().__init__()
        self.directory = str(directory)
        self.every = every
        self.step = start_step
        self.last_step = last_step
        self.is_chief = is_chief
        self.keep = keep
        self._signalled = False
        self._count_signalled = None

    @contextlib.contextmanager
    def handling_sigterm(self) -> Iterator[None]:
        """Within it, SIGTERM makes training save and stop after the current step; the caller's handler is back
        afterwards, however training ends."""
        if threading.current_thread() is not threading.main_thread():  # Python delivers signals there only
            yield
            return
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _on_sigterm(self, signum, frame) -> None:
        self._signalled = True  # acted on after the current step, which must finish first

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        preempted = self._any_worker_signalled()
        if preempted or self.step % self.every == 0 or self.step == self.last_step:
            self.save(self.step)
        if preempted:
            raise Preempted(self.step)

    def _any_worker_signalled(self) -> bool:
        strategy = self.model.distribute_strategy
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return self._signalled
        if self._count_signalled is None:  # traced once: an eager collective is slow
            self._count_signalled = tf.function(
                lambda flag: strategy.reduce("SUM", strategy.run(lambda: flag), axis=None))
        return float(self._count_signalled(tf.constant(float(self._signalled)))) > 0

    def save(self, step: int) -> None:
        """Writes the checkpoint of `step` (the chief into `directory`, other workers into a temporary folder)."""
        with written_by_chief(self.directory, self.is_chief) as directory:
            write_checkpoint(self.model, f"{directory}/step-{step}", step)
        if self.is_chief:
            for old in checkpoints(self.directory)[:-self.keep]:
                delete_checkpoint(old)


def write_checkpoint(model: keras.Model, path: str, step: int) -> None:
    """Writes `model`'s checkpoint of `step` into the folder `path`; its state file last."""
    if tf.io.gfile.exists(path):  # a leftover of an interrupted save of the same step
        tf.io.gfile.rmtree(path)
    tf.io.gfile.makedirs(path)
    lora.save_weights(model, f"{path}/{WEIGHTS_FILE}")
    buffer = io.BytesIO()
    np.savez(buffer, *[v.numpy() for v in _rng_states(model)])
    with tf.io.gfile.GFile(f"{path}/{RNG_FILE}", "wb") as f:
        f.write(buffer.getvalue())
    with tf.io.gfile.GFile(f"{path}/{STATE_FILE}", "w") as f:
        f.write(json.dumps({"step": step}))


def delete_checkpoint(path: str) -> None:
    """Removes a checkpoint; its state file first, so a deletion cut short leaves an ignored folder."""
    tf.io.gfile.remove(f"{path}/{STATE_FILE}")
    tf.io.gfile.rmtree(path)


def checkpoints(directory: str) -> list[str]:
    """Complete checkpoints in `directory`, oldest first."""
    directory = str(directory)
    if not tf.io.gfile.isdir(directory):
        return []
    found = [path for path in tf.io.gfile.glob(f"{directory}/step-*")
             if tf.io.gfile.exists(f"{path}/{STATE_FILE}")]
    return sorted(found, key=lambda path: int(path.rsplit("-", 1)[1]))


def restore_latest(model: keras.Model, directory: str) -> int:
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
            lora.load_weights(model, f"{path}/{WEIGHTS_FILE}")
            with tf.io.gfile.GFile(f"{path}/{RNG_FILE}", "rb") as f:
                states = np.load(io.BytesIO(f.read()))
        except (OSError, ValueError) as error:
            errors.append(f"{path}: {error}")
            print(f"Checkpoint {path} is corrupt or does not match this model ({error}); trying an older one.")
            continue
        for variable, key in zip(_rng_states(model), sorted(states.files, key=lambda k: int(k.split("_")[1]))):
            variable.assign(states[key])
        with tf.io.gfile.GFile(f"{path}/{STATE_FILE}") as f:
            return json.loads(f.read())["step"]
    raise ValueError("No checkpoint could be restored: every one is corrupt or does not match this model: "
                     + "; ".join(errors))


def _rng_states(model: keras.Model) -> list[keras.Variable]:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]
