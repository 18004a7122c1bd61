"""The model directory: what `save_pretrained` writes and every loader reads.

    config.json         the `ElectraConfig` (Hugging Face keys)
    model.weights.h5    the Keras weights
    vocab.txt, tokenizer_config.json   the tokenizer (Hugging Face's file names), when the model has one
    task.json           {"task_type": ..., "head": the head's settings (label names included),
                         "preprocessor": how raw text becomes inputs (max length, text pairs)}

so a directory describes itself: fine-tuning, evaluation, export and conversion read these files, never flags.
"""

from __future__ import annotations

import json
import os
import pathlib

import keras

from electra_tf.config import ElectraConfig
from electra_tf.text.tokenizer import WordPieceTokenizer, save_tokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_FILE = "task.json"


def write_model_directory(model: keras.Model, config: ElectraConfig, directory: str | os.PathLike,
                          task_info: dict, tokenizer: WordPieceTokenizer | None = None) -> None:
    """Writes `config.json`, `model.weights.h5`, `task.json` and, with a tokenizer, its files; the vocabulary is
    checked against the config before anything is written."""
    if tokenizer is not None:
        check_vocabulary(tokenizer, config, "The tokenizer")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config.to_json(directory / CONFIG_FILE)
    model.save_weights(directory / WEIGHTS_FILE)
    if tokenizer is not None:
        save_tokenizer(tokenizer, directory)
    (directory / TASK_FILE).write_text(json.dumps(task_info, indent=2) + "\n")


def read_config(directory: str | os.PathLike) -> ElectraConfig:
    """The `ElectraConfig` of a model directory."""
    path = pathlib.Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a model directory: it has no {CONFIG_FILE}.")
    return ElectraConfig.from_json(path)


def read_task_info(directory: str | os.PathLike) -> dict:
    """The `task.json` of a model directory: `task_type`, and `head` / `preprocessor` settings where it has them."""
    path = pathlib.Path(directory) / TASK_FILE
    if not path.is_file():
        read_config(directory)  # names a missing config.json first: then it is no model directory at all
        raise FileNotFoundError(f"{directory} has no {TASK_FILE}: it was not written by save_pretrained.")
    return json.loads(path.read_text())


def load_weights(model: keras.Model, directory: str | os.PathLike) -> None:
    """Loads `model.weights.h5` of a model directory into a built model."""
    path = pathlib.Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE}.")
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:  # h5py's message names neither the file nor the model directory
        raise ValueError(f"The weights of the model directory {directory} ({path}) are truncated, corrupt or not "
                         f"this model's: {error}") from error


def check_vocabulary(tokenizer: WordPieceTokenizer, config: ElectraConfig, where: str) -> None:
    """Refuses a vocabulary whose size is not the model's (ids would be wrong or out of range)."""
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"{where}: the vocabulary has {tokenizer.vocab_size} tokens but the model's vocab_size is "
                         f"{config.vocab_size}.")
