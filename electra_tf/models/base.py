"""What every model shares: its model directory, written and read here once (`save_pretrained` /
`from_pretrained`), and for the models built on one encoder, the encoder, its head's build and settings, and
the optional raw-text preprocessor.

A subclass says what it is (`TASK_TYPE`, registered with `registry.register`) and what its head is
(`build_head`, `settings`); everything about directories, Keras configs and raw-text inputs is here.
"""

from __future__ import annotations

import os
from typing import Any, Callable, ClassVar

import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.inputs import ANY_LENGTH_INPUTS
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models.accumulation import accumulated_gradients, split_batch
from electra_tf.models.builders import build_encoder
from electra_tf.models.directory import (check_vocabulary, load_weights, read_config, read_task_info,
                                         write_model_directory)
from electra_tf.models.registry import model_class
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.text.tokenizer import VOCAB_FILE, WordPieceTokenizer, load_tokenizer


class PretrainedModel(keras.Model):
    """A model that lives in a model directory (see `electra_tf.models.directory`).

    Subclasses set `TASK_TYPE` and `config` (an `ElectraConfig`, the first constructor argument) and say which
    other constructor arguments describe the model (`settings`): `task.json` records them.
    """

    TASK_TYPE: ClassVar[str]
    config: ElectraConfig

    def settings(self) -> dict[str, Any]:
        """The constructor arguments besides `config` that a saved model is rebuilt with."""
        return {}

    # --- `model.fit` under MultiWorkerMirroredStrategy (TF 2.21 / Keras 3.15; keras-team/keras#20585) ---
    # Keras's trainer fails there at the first step for two reasons, both handled here for every model:
    # it builds the model from the first batch averaged across replicas (an eager cross-worker reduce of a
    # PerReplica batch, which raises), and it averages the step's logs across workers along axis 0, which a
    # scalar log does not have. One local replica's batch builds the model just as well (only shapes matter),
    # and a log of shape [1] averages to the same number.
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is None or not isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(self._one_replicas_value, next(batches))
            break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def _one_replicas_value(self, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return self.distribute_strategy.experimental_local_results(value)[0]
        return value

    def make_train_function(self, force: bool = False):
        # Without a strategy scope Keras builds the optimizer inside the first traced train step, and the slot
        # variables created there make TensorFlow trace the whole step a second time (half the time of a
        # 5-step tiny pre-training run on 2 cores). Built before tracing, the step is traced once.
        if self.built and self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    def make_predict_function(self, force: bool = False):
        # Keras's `predict` calls its traced step with each batch's tensors (`fit` and `evaluate` pass an iterator,
        # whose shapes are the dataset's), so batches padded to their longest text trace it up to three times:
        # [32, 48], then [32, None], then [None, None] for a last, smaller batch; seconds each for a task model.
        # Traced on the first batch for any shapes instead, it is traced once.
        if self.predict_function is not None and not force:
            return self.predict_function
        super().make_predict_function(force)
        if isinstance(self.predict_function, tf.types.experimental.PolymorphicFunction):
            self.predict_function = traced_for_any_shapes(self.predict_function)
        return self.predict_function

    def step_logs(self, logs: dict[str, Any]) -> dict[str, Any]:
        """A train or test step's logs in a form every strategy can average across replicas."""
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return {name: tf.reshape(value, [-1]) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        return self.step_logs(super().train_step(data))

    def test_step(self, data):
        return self.step_logs(super().test_step(data))

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras's `predict`, except that under multi-worker training every worker predicts the whole
        `tf.data.Dataset` itself, in order (Keras would shard it across workers and hand each worker a part):
        each worker can then score dev data, which is cheap next to training and needs no collective op."""
        if not (isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and isinstance(x, tf.data.Dataset)):
            return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        forward = tf.function(lambda inputs: self(inputs, training=False))
        outputs = [forward(keras.utils.unpack_x_y_sample_weight(batch)[0]) for batch in x]
        return tf.nest.map_structure(lambda *parts: np.concatenate([np.asarray(part) for part in parts]), *outputs)

    def task_info(self) -> dict[str, Any]:
        """What `task.json` records."""
        return {"task_type": self.TASK_TYPE, "settings": self.settings()}

    def default_tokenizer(self) -> WordPieceTokenizer | None:
        """The tokenizer saved with the model when `save_pretrained` is given none."""
        return None

    def save_pretrained(self, directory: str | os.PathLike, tokenizer: WordPieceTokenizer | None = None) -> None:
        """Writes the model directory: config, weights, `task.json` and the tokenizer (the given one, else the
        model's own if it has a preprocessor)."""
        write_model_directory(self, self.config, directory, self.task_info(),
                              tokenizer if tokenizer is not None else self.default_tokenizer())

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **overrides) -> "PretrainedModel":
        """The model saved in `directory` by `save_pretrained`, or one started from a directory of another kind
        where the class allows it (task models: its encoder with a new head; see `load_encoder`)."""
        task_info = read_task_info(directory)
        if task_info["task_type"] != cls.TASK_TYPE:
            return cls.from_other_directory(directory, task_info["task_type"], **overrides)
        model = cls.from_task_info(read_config(directory), task_info, directory, **overrides)
        load_weights(model, directory)
        return model

    @classmethod
    def from_task_info(cls, config: ElectraConfig, task_info: dict, directory: str | os.PathLike,
                       **overrides) -> "PretrainedModel":
        """A new model (weights not loaded) as `task.json` describes it, `overrides` applied."""
        return cls(config, **{**task_info.get("settings", {}), **overrides})

    @classmethod
    def from_other_directory(cls, directory: str | os.PathLike, task_type: str, **overrides) -> "PretrainedModel":
        """A model of this class from a directory of `task_type`; refused unless a subclass says how."""
        raise ValueError(f"{directory} holds a {task_type!r} model, not a {cls.TASK_TYPE!r} one.")


class EncoderModel(PretrainedModel):
    """A model made of one `ElectraEncoder` and a head. A subclass creates its head's layers after calling
    this constructor, then calls `self.build(ANY_LENGTH_INPUTS)`: weights exist before the first batch. Its
    `settings` are the head's.

    Args:
        config: `ElectraConfig`. The encoder's architecture.
        encoder: `ElectraEncoder` or None. The encoder to use (e.g. one that shares its embeddings with
            another, or a pre-trained one); a new one of `config`'s size by default.
        preprocessor: `ElectraPreprocessor` or None. When set, the model also takes raw strings (or a pair of
            string batches) and tokenizes them in the graph; a dict of ids still bypasses it. Its settings
            (max length, text pairs) and its tokenizer are saved with the model.
        **kwargs: other keyword arguments passed to `keras.Model`.
    """

    # Head settings that `from_pretrained` may change on a saved model (they do not shape weights).
    OVERRIDABLE_SETTINGS: ClassVar[tuple[str, ...]] = ("dropout",)
    # Micro-batches per update (`electra_tf.models.accumulation`): a training setting, set before `fit`, not saved.
    grad_accum_steps: int = 1
    # What turns raw text into this model's inputs (a task with its own, e.g. keeping offsets, sets it).
    PREPROCESSOR_CLASS: ClassVar[type] = ElectraPreprocessor
    # LoRA's settings and base model directory once `electra_tf.models.lora.enable_lora` ran on the model.
    lora = None
    lora_base_model: str | None = None

    def __init__(self, config: ElectraConfig, *, encoder: ElectraEncoder | None = None,
                 preprocessor: ElectraPreprocessor | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.encoder = encoder if encoder is not None else build_encoder(config)
        self.preprocessor = preprocessor
        # As keras-hub's tasks: let Python strings through `__call__` to the preprocessor unconverted.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    def build(self, inputs_shape):
        if self.built:  # built at construction; Keras may ask again
            return
        if not self.encoder.built:  # a deserialized or pre-trained encoder arrives built
            self.encoder.build(inputs_shape)
        self.build_head(self.encoder.hidden_size)
        self.built = True

    def build_head(self, hidden_size: int) -> None:
        """Builds the head's layers for hidden states of width `hidden_size`."""

    def train_step(self, data):
        if self.grad_accum_steps == 1:
            return super().train_step(data)
        return self.step_logs(self._accumulating_train_step(data))

    def _accumulating_train_step(self, data) -> dict[str, tf.Tensor]:
        # Keras 3.15's TensorFlow `train_step` per micro-batch, each loss a 1/k share of the batch's mean loss.
        count = self.grad_accum_steps
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        def scaled_loss(micro_batch) -> tf.Tensor:
            x, y, sample_weight = micro_batch
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)  # the replica's share already
            first_input = next(leaf for leaf in tf.nest.flatten(x) if leaf is not None)
            self._loss_tracker.update_state(loss * replicas, sample_weight=tf.shape(first_input)[0])
            self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
            return self.optimizer.scale_loss(loss / count)

        micro_batches = split_batch(keras.utils.unpack_x_y_sample_weight(data), count)
        gradients = accumulated_gradients(micro_batches, scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.get_metrics_result()

    def lr_multipliers(self) -> dict[str, float]:
        """Layers (by name) that learn at a multiple of the learning rate (`ElectraAdamW.lr_multipliers`)."""
        return {}

    def model_inputs(self, inputs) -> dict:
        """`inputs` as the encoder's dict: ids as given, raw text through the preprocessor."""
        if isinstance(inputs, dict):
            return inputs
        if self.preprocessor is None:
            raise ValueError(f"This {type(self).__name__} has no preprocessor: give token ids, or build it with one.")
        return self.preprocessor(inputs)

    # --- The model directory ---
    def task_info(self) -> dict[str, Any]:
        info = super().task_info()
        if self.preprocessor is not None:
            info["preprocessor"] = self.preprocessor.settings()
        return info

    def default_tokenizer(self) -> WordPieceTokenizer | None:
        return None if self.preprocessor is None else self.preprocessor.tokenizer

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, sequence_length: int | None = None,
                        text_pair: bool | None = None, **overrides) -> "EncoderModel":
        """The model saved in `directory`, or, from a directory of another kind, its encoder (see
        `load_encoder`) with a new head built from `overrides`.

        A directory with a tokenizer gives the model a preprocessor: the saved one's settings, or
        `ElectraPreprocessor`'s defaults, each replaced by `sequence_length` / `text_pair` when given (or pass
        `preprocessor=`).
        """
        if "preprocessor" not in overrides:
            overrides["preprocessor"] = _preprocessor(cls.PREPROCESSOR_CLASS, directory, sequence_length, text_pair)
        return super().from_pretrained(directory, **overrides)

    @classmethod
    def from_task_info(cls, config, task_info, directory, **overrides) -> "EncoderModel":
        saved = task_info.get("settings", {})
        for key, value in overrides.items():
            if key in saved and key not in cls.OVERRIDABLE_SETTINGS and saved[key] != _as_saved(value):
                raise ValueError(f"{directory} holds a model with {key}={saved[key]!r}, not {value!r}.")
        return super().from_task_info(config, task_info, directory, **overrides)

    @classmethod
    def from_other_directory(cls, directory, task_type, **overrides) -> "EncoderModel":
        return cls(read_config(directory), encoder=load_encoder(directory), **overrides)

    # --- Keras serialization: the encoder is rebuilt from `config` ---
    def get_config(self):
        config = super().get_config()
        config.update(self.settings(), config=self.config.to_dict(),
                      preprocessor=None if self.preprocessor is None else keras.layers.serialize(self.preprocessor))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        preprocessor = config.pop("preprocessor", None)
        return cls(ElectraConfig.from_dict(config.pop("config")),
                   preprocessor=None if preprocessor is None else keras.layers.deserialize(preprocessor), **config)


def traced_for_any_shapes(function: tf.types.experimental.PolymorphicFunction) -> Callable:
    """`function`, traced at its first call for tensors of the first call's ranks and dtypes and any shapes,
    a trace every later call reuses (tf.function picks the trace whose signature covers the call). Calls with
    values other than tensors (numpy arrays, distributed values) go to `function` as they are."""
    def call(data):
        leaves = tf.nest.flatten(data)
        if not function.experimental_get_tracing_count() and all(tf.is_tensor(leaf) for leaf in leaves):
            function.get_concrete_function(
                tf.nest.map_structure(lambda t: tf.TensorSpec([None] * t.shape.rank, t.dtype), data))
        return function(data)

    return call


def _as_saved(value: Any) -> Any:
    """`value` as `task.json` gives it back (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def _preprocessor(preprocessor_class: type, directory: str | os.PathLike, sequence_length: int | None,
                  text_pair: bool | None) -> ElectraPreprocessor | None:
    """The preprocessor of a model directory with a tokenizer: its saved settings with the given ones applied."""
    if not (os.path.isfile(os.path.join(directory, VOCAB_FILE))):
        return None
    tokenizer = load_tokenizer(directory)
    check_vocabulary(tokenizer, read_config(directory), str(directory))
    settings = dict(read_task_info(directory).get("preprocessor", {}))
    if sequence_length is not None:
        settings["sequence_length"] = sequence_length
    if text_pair is not None:
        settings["text_pair"] = text_pair
    return preprocessor_class(tokenizer, **settings)


def load_encoder(directory: str | os.PathLike) -> ElectraEncoder:
    """A new encoder holding the weights of the one in any model directory: a pre-trainer's discriminator,
    a discriminator, generator or backbone, or a fine-tuned model (its head is left behind).

    The encoder is a copy, not shared with anything (a pre-trainer's towers share their embeddings; under
    gradient-disentangled sharing the copy's tables are the discriminator's `E_G + E_delta`).
    """
    source = model_class(read_task_info(directory)["task_type"]).from_pretrained(directory).encoder
    encoder = build_encoder(read_config(directory))
    encoder.build(ANY_LENGTH_INPUTS)
    encoder.set_weights(source.standalone_weights())
    return encoder


def pretrainer_tower(directory: str | os.PathLike, task_type: str, tower: str) -> EncoderModel:
    """The `generator` or `discriminator` of the pre-trainer saved in `directory`."""
    if task_type != "pretraining":
        raise ValueError(f"{directory} holds a {task_type!r} model, not a {tower} (or a pre-trainer, which has one).")
    return model_class(task_type).from_pretrained(directory).standalone_tower(tower)
