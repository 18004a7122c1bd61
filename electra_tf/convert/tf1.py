"""Original google-research/electra TF1 checkpoints (`model.ckpt-*`) into electra_tf models.

The TF1 names are the Hugging Face names in another spelling (`electra/encoder/layer_0/attention/self/query/
kernel` for `electra.encoder.layer.0.attention.self.query.weight`), with dense kernels stored [in, out]
instead of [out, in]; this module renames and transposes them, then loads through `convert.hf`'s checked
assignment. Optimizer slots (`adam_m`, `adam_v`) and `global_step` are skipped.

What a checkpoint holds decides what it becomes (`load_model`): fine-tuned task heads under
`task_specific/<task>/` give a classifier, tagger or question answerer; a generator gives a pre-trainer;
`discriminator_predictions/` a discriminator; the encoder alone a backbone.
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.convert import hf
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.text.tokenizer import WordPieceTokenizer

_SKIPPED = re.compile(r"(adam_[mv]$|^global_step$)")
_TASK_SCOPE = re.compile(r"^task_specific/([^/]+)/")

# The original's GLUE task names -> ours. Its label order is ours except MNLI's, and it trained STS-B on
# score / 5 (finetune/classification/classification_tasks.py).
_GLUE_TASKS = {"cola": "cola", "sst": "sst2", "mrpc": "mrpc", "sts": "stsb", "qqp": "qqp", "mnli": "mnli",
               "qnli": "qnli", "rte": "rte"}
_ORIGINAL_LABEL_ORDER = {"mnli": ("contradiction", "entailment", "neutral")}
_STS_SCALE = 5.0
_TAGGING_TASKS = ("chunk",)  # the original's tagging tasks; its classification and QA heads differ in shape


def tf1_name(hf_name: str) -> str:
    """The original checkpoint's name of a Hugging Face tensor name (discriminator, heads, generator head)."""
    name = re.sub(r"\.layer\.(\d+)\.", r".layer_\1.", hf_name)
    name = name.replace("dense_prediction", "dense_1").replace("generator_lm_head.bias", "generator_predictions.output_bias")
    name = re.sub(r"LayerNorm\.weight$", "LayerNorm.gamma", name)
    name = re.sub(r"LayerNorm\.bias$", "LayerNorm.beta", name)
    name = re.sub(r"(_embeddings)\.weight$", r"\1", name)
    name = re.sub(r"\.weight$", ".kernel", name)
    return name.replace(".", "/")


def read_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The model tensors of a TF1 checkpoint (a prefix such as `model.ckpt-1000000`, or its directory)."""
    try:
        reader = tf.train.load_checkpoint(str(path))
    except (tf.errors.NotFoundError, ValueError) as error:
        raise FileNotFoundError(f"No readable TF1 checkpoint at {path}: {error}") from None
    return {name: reader.get_tensor(name).astype(np.float32)
            for name in reader.get_variable_to_shape_map() if not _SKIPPED.search(name)}


def load_model(path: str | os.PathLike, config: ElectraConfig, task: str | None = None,
               tagging: bool | None = None, tokenizer: WordPieceTokenizer | None = None) -> keras.Model:
    """Whatever a TF1 checkpoint holds, as our model (see the module docstring).

    Args:
        path: the checkpoint prefix (or its directory).
        config: the architecture (TF1 checkpoints carry none); for a pre-training checkpoint it must give
            the generator's size and `embedding_sharing` (tied or untied).
        task: the `task_specific/<task>` head to load from a multi-task checkpoint.
        tagging: whether a one-layer `task_specific/<task>/dense` head is a tagger (one label per token)
            or a classifier; by default, a tagger only for the original's tagging tasks (`chunk`).
        tokenizer: the checkpoint's vocabulary; task models get a preprocessor on it (GLUE heads: with their
            pair-ness), so they take raw text and export as they are.
    """
    tensors = read_checkpoint(path)
    tasks = sorted({match.group(1) for match in map(_TASK_SCOPE.match, tensors) if match})
    if tasks:
        if task is None and len(tasks) > 1:
            raise ValueError(f"{path} holds the heads of several tasks {tasks}: choose one with task.")
        task = task or tasks[0]
        if task not in tasks:
            raise ValueError(f"{path} has no task_specific/{task}/ head; it has {tasks}.")
        tensors = {name: value for name, value in tensors.items()
                   if not name.startswith("task_specific/") or name.startswith(f"task_specific/{task}/")}
        if f"task_specific/{task}/qa_hidden/kernel" in tensors:
            return _load_question_answerer(tensors, config, task, path,
                                           _preprocessor(ElectraQuestionAnswerer, tokenizer))
        if tagging or (tagging is None and task in _TAGGING_TASKS):
            return _load_dense_head(ElectraTokenClassifier, tensors, config, task, path,
                                    preprocessor=_preprocessor(ElectraTokenClassifier, tokenizer))
        return _load_classifier(tensors, config, task, path, tokenizer)
    if any(name.startswith("generator/") for name in tensors):
        return _load_pretrainer(tensors, config, path)
    if any(name.startswith("discriminator_predictions/") for name in tensors):
        return _load_discriminator(tensors, config, path)
    backbone = ElectraBackbone(config)
    _assign(hf.encoder_links(backbone.encoder), tensors, path)
    return backbone


def _preprocessor(model_class: type, tokenizer: WordPieceTokenizer | None,
                  text_pair: bool = False) -> keras.layers.Layer | None:
    """The raw-text preprocessor of a `model_class` model (a tagger's keeps word offsets, a reader's windows
    contexts), or None without a tokenizer."""
    return None if tokenizer is None else model_class.PREPROCESSOR_CLASS(tokenizer, text_pair=text_pair)


def load_discriminator(path: str | os.PathLike, config: ElectraConfig) -> ElectraDiscriminator:
    """The discriminator (encoder `electra/*` + `discriminator_predictions/*`) of a TF1 checkpoint; the
    generator's variables, if any, are ignored."""
    return _load_discriminator(read_checkpoint(path), config, path)


def _load_discriminator(tensors: dict[str, np.ndarray], config: ElectraConfig, path) -> ElectraDiscriminator:
    discriminator = ElectraDiscriminator(config)
    tensors = {name: value for name, value in tensors.items() if not name.startswith("generator")}
    _assign(hf.discriminator_links(discriminator), tensors, path)
    return discriminator


def load_pretrainer(path: str | os.PathLike, config: ElectraConfig) -> ElectraPretrainer:
    """Generator, discriminator and both heads of a TF1 pre-training checkpoint, embeddings shared as trained.

    `config` must give the generator's size (`generator_hidden_size`, e.g. 1.0 for the released Small++)
    and whether its embeddings were untied (`embedding_sharing`).
    """
    return _load_pretrainer(read_checkpoint(path), config, path)


def _load_pretrainer(tensors: dict[str, np.ndarray], config: ElectraConfig, path) -> ElectraPretrainer:
    if not any(name.startswith("generator/") for name in tensors):
        raise ValueError(f"{path} holds no generator: load its discriminator with load_discriminator.")
    untied = any(name.startswith("generator/embeddings/") for name in tensors)
    sharing = "untied" if untied else "tied"
    if sharing != config.embedding_sharing:
        raise ValueError(f"{path} has {'untied' if untied else 'shared'} generator embeddings: set "
                         f"embedding_sharing={sharing!r} in the config.")
    pretrainer = ElectraPretrainer(config)
    generator_links = hf.generator_links(pretrainer.generator, prefix="generator.")
    if not untied:  # shared: they are electra/embeddings/*, loaded with the discriminator
        generator_links = [link for link in generator_links if not link.name.startswith("generator.embeddings.")]
    _assign(hf.discriminator_links(pretrainer.discriminator) + generator_links, tensors, path)
    return pretrainer


def _load_classifier(tensors: dict[str, np.ndarray], config: ElectraConfig, task: str, path,
                     tokenizer: WordPieceTokenizer | None) -> ElectraClassifier:
    from electra_tf.data.glue import get_task

    if task not in _GLUE_TASKS:
        return _load_dense_head(ElectraClassifier, tensors, config, task, path,
                                preprocessor=_preprocessor(ElectraClassifier, tokenizer))
    glue_task = get_task(_GLUE_TASKS[task])
    classifier = _load_dense_head(ElectraClassifier, tensors, config, task, path, label_names=glue_task.label_names,
                                  preprocessor=_preprocessor(ElectraClassifier, tokenizer, glue_task.text_pair))
    kernel, bias = classifier.logits.kernel, classifier.logits.bias
    if glue_task.is_regression:
        kernel.assign(kernel * _STS_SCALE)  # predict the score itself, as our STS-B targets are
        bias.assign(bias * _STS_SCALE)
    elif task in _ORIGINAL_LABEL_ORDER:  # reorder the logits to our label ids
        order = [_ORIGINAL_LABEL_ORDER[task].index(label) for label in glue_task.label_names]
        kernel.assign(tf.gather(kernel, order, axis=1))
        bias.assign(tf.gather(bias, order))
    return classifier


def _load_dense_head(model_class: type, tensors: dict[str, np.ndarray], config: ElectraConfig, task: str, path,
                     **model_arguments):
    """A classifier or tagger: the encoder and the one `task_specific/<task>/dense` layer of its head."""
    model = model_class(config, _output_size(tensors, f"task_specific/{task}/dense", path), **model_arguments)
    head = hf.dense_links(f"task_specific.{task}.dense", model.logits)
    _assign(hf.encoder_links(model.encoder) + head, tensors, path)
    return model


def _load_question_answerer(tensors: dict[str, np.ndarray], config: ElectraConfig, task: str, path,
                            preprocessor: keras.layers.Layer | None) -> ElectraQuestionAnswerer:
    scope = f"task_specific/{task}"
    reader = ElectraQuestionAnswerer(config, head="original", preprocessor=preprocessor,
                                     head_hidden_size=_output_size(tensors, f"{scope}/qa_hidden", path))
    # The original's tf.layers names: start `dense`, then `qa_hidden` and `dense_1` (end), then the
    # answerability classifier's `dense_2` and `dense_3`. Links take Hugging Face-style names, which
    # `tf1_name` spells task_specific/<task>/<layer>/{kernel,bias}.
    prefix = f"task_specific.{task}"
    layers = {"dense": reader.start_logits, "qa_hidden": reader.end_hidden, "dense_1": reader.end_logits,
              "dense_2": reader.answerable_hidden, "dense_3": reader.answerable_logits}
    head = [link for name, layer in layers.items() for link in hf.dense_links(f"{prefix}.{name}", layer)]
    _assign(hf.encoder_links(reader.encoder) + head, tensors, path)
    return reader


def _output_size(tensors: dict[str, np.ndarray], scope: str, path) -> int:
    if f"{scope}/bias" not in tensors:
        raise ValueError(f"{path} has no {scope}/bias, which a head of this task needs.")
    return tensors[f"{scope}/bias"].shape[0]


def _assign(links: list[hf.WeightLink], tensors: dict[str, np.ndarray], path) -> None:
    """Renames the checkpoint's tensors to the links' names (transposing kernels) and assigns them checked."""
    wanted = {tf1_name(link.name): link.name for link in links}
    unused = sorted(set(tensors) - set(wanted))
    if unused:
        raise ValueError(f"{path} has tensors the model does not use: {unused[:5]}.")
    missing = sorted(set(wanted) - set(tensors))
    if missing:
        raise ValueError(f"{path} does not match the model: missing {missing[:5]}.")
    # TF1 dense kernels are [in, out]; the Hugging Face layout the links expect is [out, in].
    renamed = {wanted[name]: value.T if name.endswith("/kernel") else value for name, value in tensors.items()}
    hf.assign(links, renamed, str(path))
