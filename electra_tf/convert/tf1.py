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
from electra_tf.models.discriminator import ElectraDiscriminator

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
    """The discriminator (encoder `electra/*` + `discriminator_predictions/*`) of a TF1 checkpoint."""
    tensors = read_checkpoint(path)
    discriminator = ElectraDiscriminator(hf._built_encoder(config))
    discriminator.build({key: (None, None) for key in ("token_ids", "segment_ids", "padding_mask")})
    links = hf.discriminator_links(discriminator)
    wanted = {tf1_name(link.name): link.name for link in links}
    unused = sorted(name for name in tensors if name not in wanted and not name.startswith("generator"))
    if unused:
        raise ValueError(f"{path} has tensors the discriminator does not use: {unused[:5]}.")
    renamed = {}
    for tf1, hf_name in wanted.items():
        if tf1 not in tensors:
            raise ValueError(f"{path} does not match the model: missing {tf1}.")
        value = tensors[tf1]
        # TF1 dense kernels are [in, out]; the Hugging Face layout the links expect is [out, in].
        renamed[hf_name] = value.T if tf1.endswith("/kernel") else value
    hf.assign(links, renamed, str(path))
    return discriminator
