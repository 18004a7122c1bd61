"""`electra-tf convert`: a checkpoint from elsewhere -> one of our model directories.

Everything is read and checked before anything is written, so a failed conversion leaves no output.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from electra_tf.config import ElectraConfig
from electra_tf.convert import hf, tf1
from electra_tf.models.base import ANY_LENGTH_INPUTS, special_token_ids
from electra_tf.text.tokenizer import WordPieceTokenizer

SOURCES = ("hf", "tf1", "keras-hub")


def convert_checkpoint(source: str, input_path: str | os.PathLike, output: str | os.PathLike,
                       config: ElectraConfig | None = None, vocab: str | os.PathLike | None = None,
                       generator: str | os.PathLike | None = None) -> str:
    """Converts and writes `output`; returns what it wrote (`pretrainer`, `discriminator` or `classifier`).

    Args:
        source: `hf` (a transformers directory with model.safetensors), `tf1` (an original `model.ckpt-*`
            prefix; needs `config` and `vocab`) or `keras-hub` (a local ElectraBackbone preset directory).
        input_path: the checkpoint.
        output: the model directory to write.
        config: the architecture, for TF1 checkpoints (they carry none).
        vocab: the vocabulary file, for TF1 checkpoints.
        generator: with `hf`, an ElectraForMaskedLM directory to combine with the discriminator into a
            pre-trainer (embeddings re-tied), for continued pre-training.
    """
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; choose one of {SOURCES}.")
    output = pathlib.Path(output)
    if output.exists() and any(output.iterdir()):
        raise ValueError(f"{output} exists and is not empty: choose a new output directory.")
    if generator is not None:
        if source != "hf":
            raise ValueError("Combining a generator with a discriminator is supported for Hugging Face directories.")
        pretrainer, tokenizer = hf.load_pretrainer(input_path, generator)
        pretrainer.save_pretrained(output, tokenizer)
        return "pretrainer"
    if source == "hf":
        return _from_hf(pathlib.Path(input_path), output)
    if source == "tf1":
        if config is None or vocab is None:
            raise ValueError("A TF1 checkpoint carries no config or vocabulary: give both.")
        tokenizer = WordPieceTokenizer(vocab)
        config = _with_vocabulary(config, tokenizer)
        tf1.load_discriminator(input_path, config).save_pretrained(output, config, tokenizer)
        return "discriminator"
    return _from_keras_hub(pathlib.Path(input_path), output)


def _with_vocabulary(config: ElectraConfig, tokenizer: WordPieceTokenizer) -> ElectraConfig:
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"The vocabulary has {tokenizer.vocab_size} tokens but the config {config.vocab_size}.")
    return dataclasses.replace(config, **special_token_ids(tokenizer))


def _from_hf(directory: pathlib.Path, output: pathlib.Path) -> str:
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{directory} has no config.json.")
    values = json.loads(config_file.read_text())
    architecture = (values.get("architectures") or ["?"])[0]
    if architecture == "ElectraForPreTraining":
        discriminator, config, tokenizer = hf.load_discriminator(directory)
        discriminator.save_pretrained(output, config, tokenizer)
        return "discriminator"
    if architecture == "ElectraForSequenceClassification":
        classifier, config, tokenizer = hf.load_classifier(directory)
        id2label = values.get("id2label") or {}
        labels = [id2label.get(str(i), str(i)) for i in range(classifier.num_labels)]
        classifier.save_pretrained(output, config, tokenizer, label_names=labels)
        return "classifier"
    raise ValueError(f"{directory} holds a {architecture}; convert an ElectraForPreTraining (discriminator) or "
                     "an ElectraForSequenceClassification.")


def _from_keras_hub(preset: pathlib.Path, output: pathlib.Path) -> str:
    import keras_hub

    from electra_tf.convert.keras_hub import from_keras_hub
    from electra_tf.models.discriminator import ElectraDiscriminator

    vocabulary = preset / "assets" / "tokenizer" / "vocabulary.txt"
    if not vocabulary.is_file():
        raise FileNotFoundError(f"{preset} is not a keras-hub ELECTRA preset directory (no {vocabulary}).")
    tokenizer = WordPieceTokenizer(vocabulary)
    encoder, config = from_keras_hub(keras_hub.models.ElectraBackbone.from_preset(str(preset)))
    config = _with_vocabulary(config, tokenizer)
    # keras-hub presets hold no replaced-token-detection head: it starts fresh, the encoder is the point.
    discriminator = ElectraDiscriminator(encoder)
    discriminator.build(ANY_LENGTH_INPUTS)
    discriminator.save_pretrained(output, config, tokenizer)
    return "discriminator"
