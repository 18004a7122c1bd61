"""Original google-research/electra TF1 checkpoints (`model.ckpt-*`) into electra_tf models.

The TF1 names are the Hugging Face names in another spelling (`electra/encoder/layer_0/attention/self/query/
kernel` for `electra.encoder.layer.0.attention.self.query.weight`), with dense kernels stored [in, out]
instead of [out, in]; this module renames and transposes them, then loads through `convert.hf`'s checked
assignment. Optimizer slots (`adam_m`, `adam_v`) and `global_step` are skipped.
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.convert import hf
from electra_tf.models.base import ANY_LENGTH_INPUTS
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.pretrainer import ElectraPretrainer

_SKIPPED = re.compile(r"(adam_[mv]$|^global_step$)")


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


def load_discriminator(path: str | os.PathLike, config: ElectraConfig) -> ElectraDiscriminator:
    """The discriminator (encoder `electra/*` + `discriminator_predictions/*`) of a TF1 checkpoint; the
    generator's variables, if any, are ignored."""
    discriminator = ElectraDiscriminator(hf._built_encoder(config))
    discriminator.build(ANY_LENGTH_INPUTS)
    tensors = {name: value for name, value in read_checkpoint(path).items() if not name.startswith("generator")}
    _assign(hf.discriminator_links(discriminator), tensors, path)
    return discriminator


def load_pretrainer(path: str | os.PathLike, config: ElectraConfig) -> ElectraPretrainer:
    """Generator, discriminator and both heads of a TF1 pre-training checkpoint, embeddings shared as trained.

    `config` must give the generator's size (`generator_hidden_size`, e.g. 1.0 for the released Small++).
    """
    tensors = read_checkpoint(path)
    if not any(name.startswith("generator/") for name in tensors):
        raise ValueError(f"{path} holds no generator: load its discriminator with load_discriminator.")
    if any(name.startswith("generator/embeddings/") for name in tensors):
        raise ValueError(f"{path} has untied generator embeddings (untied_generator_embeddings=True), "
                         "which this package does not support.")
    pretrainer = ElectraPretrainer(config)
    generator_links = [link for link in hf.generator_links(pretrainer.generator, prefix="generator.")
                       if not link.name.startswith("generator.embeddings.")]  # shared: electra/embeddings/*
    _assign(hf.discriminator_links(pretrainer.discriminator) + generator_links, tensors, path)
    return pretrainer


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
