"""What every model shares: building embeddings and encoders from an `ElectraConfig`, and the model directory."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Sequence

import keras

from electra_tf.config import ElectraConfig
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.text.tokenizer import WordPieceTokenizer, write_vocabulary


# The model inputs, each [batch_size, sequence_length] ints; and their shapes for building before any data.
INPUT_KEYS = ("token_ids", "segment_ids", "padding_mask")
ANY_LENGTH_INPUTS = {key: (None, None) for key in INPUT_KEYS}


class EncoderModel(keras.Model):
    """Base of the models made of an `encoder` (an `ElectraEncoder`) and a head: (de)serializes the encoder,
    which is a constructor argument, so `from_config(get_config())` rebuilds any of them."""

    def get_config(self):
        config = super().get_config()
        config["encoder"] = keras.layers.serialize(self.encoder)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, encoder=keras.layers.deserialize(config["encoder"])))


def build_embeddings(config: ElectraConfig, name: str = "embeddings") -> ElectraEmbeddings:
    """The embeddings layer described by `config`."""
    return ElectraEmbeddings(
        vocab_size=config.vocab_size,
        embedding_size=config.embedding_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        dropout=config.hidden_dropout_prob,
        layer_norm_epsilon=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        name=name,
    )


def build_encoder(config: ElectraConfig, embeddings: ElectraEmbeddings, name: str = "encoder") -> ElectraEncoder:
    """An encoder of `config`'s size over `embeddings` (which may be shared with another encoder)."""
    if config.attention_probs_dropout_prob != config.hidden_dropout_prob:
        # keras-hub's TransformerEncoder has one rate for both; refuse rather than silently use one.
        raise ValueError(
            "attention_probs_dropout_prob must equal hidden_dropout_prob, got "
            f"{config.attention_probs_dropout_prob} and {config.hidden_dropout_prob}.")
    return ElectraEncoder(
        embeddings,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        dropout=config.hidden_dropout_prob,
        layer_norm_epsilon=config.layer_norm_eps,
        initializer_range=config.initializer_range,
        name=name,
    )


# --- The model directory: what `save_pretrained` writes and every loader reads ---
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
TASK_FILE = "task.json"  # what the weights are: {"task_type": ..., and the head's settings}


def save_model_directory(model: keras.Model, config: ElectraConfig, directory: str | os.PathLike,
                         tokenizer: WordPieceTokenizer | None = None, task_info: dict | None = None) -> None:
    """Writes `config.json`, `model.weights.h5`, with a tokenizer `vocab.txt` + `tokenizer_config.json`, and
    with `task_info` (`{"task_type": ..., ...}`) `task.json`; a pre-trainer's directory has no `task.json`."""
    if tokenizer is not None:
        check_vocabulary(tokenizer, config, "The tokenizer")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config.to_json(directory / CONFIG_FILE)
    model.save_weights(directory / WEIGHTS_FILE)
    if tokenizer is not None:
        save_tokenizer(tokenizer, directory)
    if task_info is not None:
        (directory / TASK_FILE).write_text(json.dumps(task_info, indent=2) + "\n")


def labelled_task_info(model: keras.Model, task: str | None, label_names: Sequence[str] | None) -> dict:
    """The `task.json` fields of a model with `num_labels` outputs, its label names checked against them."""
    check_label_names(label_names, model.num_labels)
    return {"task_type": model.TASK_TYPE, "task": task, "num_labels": model.num_labels,
            "label_names": None if label_names is None else list(label_names)}


def check_label_names(label_names: Sequence[str] | None, num_labels: int) -> None:
    """Refuses label names that do not name each of a head's `num_labels` outputs once."""
    if label_names is not None and len(label_names) != num_labels:
        raise ValueError(f"{len(label_names)} label names for a head of {num_labels} labels.")


def read_task_info(directory: str | os.PathLike) -> dict:
    """What a model directory holds: its `task.json`, or a pre-trainer (generator + discriminator) without one."""
    task_file = pathlib.Path(directory) / TASK_FILE
    return json.loads(task_file.read_text()) if task_file.is_file() else {"task_type": "pretraining"}


def load_encoder(directory: str | os.PathLike) -> ElectraEncoder:
    """A new encoder holding the weights of the one in any model directory: a pre-trainer's discriminator,
    a discriminator, generator or backbone, or a fine-tuned model (its head is left behind).

    The encoder is a copy, not shared with anything (a pre-trainer's towers share their embeddings).
    """
    model = model_class(read_task_info(directory)["task_type"]).from_pretrained(directory)
    source = model.discriminator.encoder if hasattr(model, "discriminator") else model.encoder
    config = load_config(directory)
    encoder = build_encoder(config, build_embeddings(config))
    encoder.build(ANY_LENGTH_INPUTS)
    encoder.set_weights(source.get_weights())
    return encoder


def load_tower(cls: type, directory: str | os.PathLike, tower: str) -> keras.Model:
    """A `generator` or `discriminator` of class `cls`: from a directory of its own, or a pre-trainer's tower."""
    task_type = read_task_info(directory)["task_type"]
    if task_type == "pretraining":
        return getattr(model_class(task_type).from_pretrained(directory), tower)
    if task_type != cls.TASK_TYPE:
        raise ValueError(f"{directory} holds a {task_type!r} model, not a {tower} (or a pre-trainer, which has one).")
    config = load_config(directory)
    model = cls(build_encoder(config, build_embeddings(config)))
    model.build(ANY_LENGTH_INPUTS)
    load_weights(model, directory)
    return model


def model_class(task_type: str) -> type:
    """The model class that reads directories of `task_type`."""
    # Imported here: every model module imports this one.
    from electra_tf.models.backbone import ElectraBackbone
    from electra_tf.models.classifier import ElectraClassifier
    from electra_tf.models.discriminator import ElectraDiscriminator
    from electra_tf.models.generator import ElectraGenerator
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.models.question_answerer import ElectraQuestionAnswerer
    from electra_tf.models.token_classifier import ElectraTokenClassifier

    classes = {model.TASK_TYPE: model for model in (
        ElectraPretrainer, ElectraDiscriminator, ElectraGenerator, ElectraBackbone, ElectraClassifier,
        ElectraTokenClassifier, ElectraQuestionAnswerer)}
    if task_type not in classes:
        raise ValueError(f"Unknown task_type {task_type!r} in {TASK_FILE}; known: {sorted(classes)}.")
    return classes[task_type]


def load_config(directory: str | os.PathLike) -> ElectraConfig:
    """The `ElectraConfig` of a model directory."""
    path = pathlib.Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a model directory: it has no {CONFIG_FILE}.")
    return ElectraConfig.from_json(path)


def load_weights(model: keras.Model, directory: str | os.PathLike) -> None:
    """Loads `model.weights.h5` of a model directory into a built model."""
    path = pathlib.Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE}.")
    model.load_weights(path)


def save_tokenizer(tokenizer: WordPieceTokenizer, directory: str | os.PathLike) -> None:
    """Writes `vocab.txt` and `tokenizer_config.json` (the file names and keys Hugging Face uses too)."""
    directory = pathlib.Path(directory)
    write_vocabulary(tokenizer.vocabulary, directory / VOCAB_FILE)
    (directory / TOKENIZER_CONFIG_FILE).write_text(json.dumps(
        {"do_lower_case": tokenizer.lowercase, "strip_accents": tokenizer.strip_accents,
         "tokenizer_class": "ElectraTokenizer"}, indent=2) + "\n")


def check_vocabulary(tokenizer: WordPieceTokenizer, config: ElectraConfig, where: str) -> None:
    """Refuses a vocabulary whose size is not the model's (ids would be wrong or out of range)."""
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"{where}: the vocabulary has {tokenizer.vocab_size} tokens but the model's vocab_size is "
                         f"{config.vocab_size}.")


def special_token_ids(tokenizer: WordPieceTokenizer) -> dict[str, int]:
    """The `ElectraConfig` special-token fields as the vocabulary has them."""
    return {"pad_token_id": tokenizer.pad_token_id, "cls_token_id": tokenizer.cls_token_id,
            "sep_token_id": tokenizer.sep_token_id, "mask_token_id": tokenizer.mask_token_id}


def load_tokenizer(directory: str | os.PathLike) -> WordPieceTokenizer:
    """The tokenizer saved in a model directory (ours or Hugging Face's: same file names)."""
    directory = pathlib.Path(directory)
    if not (directory / VOCAB_FILE).is_file():
        raise FileNotFoundError(f"{directory} has no {VOCAB_FILE}.")
    options = {}
    if (directory / TOKENIZER_CONFIG_FILE).is_file():
        options = json.loads((directory / TOKENIZER_CONFIG_FILE).read_text())
    return WordPieceTokenizer(directory / VOCAB_FILE, lowercase=options.get("do_lower_case", True),
                              strip_accents=options.get("strip_accents"))
