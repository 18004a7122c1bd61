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
from electra_tf.models.directory import check_vocabulary
from electra_tf.text.tokenizer import WordPieceTokenizer, special_token_ids

SOURCES = ("hf", "tf1", "keras-hub")


def convert_checkpoint(source: str, input_path: str | os.PathLike, output: str | os.PathLike,
                       config: ElectraConfig | None = None, vocab: str | os.PathLike | None = None,
                       generator: str | os.PathLike | None = None, task: str | None = None,
                       tagging: bool | None = None, lowercase: bool = True) -> str:
    """Converts and writes `output`; returns the task type of what it wrote (`pretraining`, `discriminator`,
    `generator`, `backbone`, `classification`, `token_classification` or `question_answering`).

    Args:
        source: `hf` (a transformers directory with model.safetensors), `tf1` (an original `model.ckpt-*`
            prefix; needs `config` and `vocab`) or `keras-hub` (a local ElectraBackbone preset directory).
        input_path: the checkpoint.
        output: the model directory to write.
        config: the architecture, for TF1 checkpoints (they carry none).
        vocab: the vocabulary file, for TF1 checkpoints.
        lowercase: with `tf1`, whether the vocabulary is uncased (the original's `do_lower_case`).
        generator: with `hf`, an ElectraForMaskedLM directory to combine with the discriminator into a
            pre-trainer (embeddings re-tied), for continued pre-training.
        task, tagging: with `tf1`, which `task_specific/<task>` head to load and whether it is a tagger
            (see `tf1.load_model`).
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
        return pretrainer.TASK_TYPE
    if source == "hf":
        return _from_hf(pathlib.Path(input_path), output)
    if source == "tf1":
        return _from_tf1(input_path, output, config, vocab, task, tagging, lowercase)
    return _from_keras_hub(pathlib.Path(input_path), output)


def _with_vocabulary(config: ElectraConfig, tokenizer: WordPieceTokenizer) -> ElectraConfig:
    check_vocabulary(tokenizer, config, "The config")
    return dataclasses.replace(config, **special_token_ids(tokenizer))


# Hugging Face architectures -> the loader that reads them.
_HF_LOADERS = {
    "ElectraForPreTraining": hf.load_discriminator,
    "ElectraForMaskedLM": hf.load_generator,
    "ElectraModel": hf.load_backbone,
    "ElectraForSequenceClassification": hf.load_classifier,
    "ElectraForTokenClassification": hf.load_token_classifier,
    "ElectraForQuestionAnswering": hf.load_question_answerer,
}


def _from_hf(directory: pathlib.Path, output: pathlib.Path) -> str:
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{directory} has no config.json.")
    architecture = (json.loads(config_file.read_text()).get("architectures") or ["?"])[0]
    if architecture not in _HF_LOADERS:
        raise ValueError(f"{directory} holds a {architecture}; the ELECTRA architectures converted are "
                         f"{sorted(_HF_LOADERS)}.")
    model, tokenizer = _HF_LOADERS[architecture](directory)
    model.save_pretrained(output, tokenizer)
    return model.TASK_TYPE


def _from_tf1(path, output: pathlib.Path, config: ElectraConfig | None, vocab, task: str | None,
              tagging: bool | None, lowercase: bool) -> str:
    if config is None or vocab is None:
        raise ValueError("A TF1 checkpoint carries no config or vocabulary: give both.")
    tokenizer = WordPieceTokenizer(vocab, lowercase=lowercase)
    config = _with_vocabulary(config, tokenizer)
    model = tf1.load_model(path, config, task=task, tagging=tagging, tokenizer=tokenizer)
    model.save_pretrained(output, tokenizer)
    return model.TASK_TYPE


def _from_keras_hub(preset: pathlib.Path, output: pathlib.Path) -> str:
    import keras_hub

    from electra_tf.convert.keras_hub import from_keras_hub

    vocabulary = preset / "assets" / "tokenizer" / "vocabulary.txt"
    if not vocabulary.is_file():
        raise FileNotFoundError(f"{preset} is not a keras-hub ELECTRA preset directory (no {vocabulary}).")
    tokenizer = WordPieceTokenizer(vocabulary)
    # The special ids go in as the config is built: the defaults (BERT's 101, ...) may not exist in a small vocabulary.
    # keras-hub presets hold no heads (and a tanh pooler that is not ELECTRA's): the encoder alone.
    backbone = from_keras_hub(keras_hub.models.ElectraBackbone.from_preset(str(preset)),
                              **special_token_ids(tokenizer))
    check_vocabulary(tokenizer, backbone.config, str(preset))
    backbone.save_pretrained(output, tokenizer)
    return backbone.TASK_TYPE
