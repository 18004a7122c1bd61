"""Which model class reads a model directory: each class registers its `TASK_TYPE` as it is defined, so the
directory code looks classes up here and imports no model."""

from __future__ import annotations

import keras

_MODEL_CLASSES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: makes a model Keras-serializable and the reader of directories of its `TASK_TYPE`."""
    if cls.TASK_TYPE in _MODEL_CLASSES:
        raise ValueError(f"Two model classes for task_type {cls.TASK_TYPE!r}: {_MODEL_CLASSES[cls.TASK_TYPE]} and "
                         f"{cls}.")
    _MODEL_CLASSES[cls.TASK_TYPE] = cls
    return keras.saving.register_keras_serializable(package="electra_tf")(cls)


def model_class(task_type: str) -> type:
    """The model class that reads directories of `task_type` (every class in `electra_tf.models` is
    registered once that package is imported, which importing any of its modules does)."""
    if task_type not in _MODEL_CLASSES:
        raise ValueError(f"Unknown task_type {task_type!r}; known: {sorted(_MODEL_CLASSES)}.")
    return _MODEL_CLASSES[task_type]
