"""LoRA (Hu et al., 2021, "Low-Rank Adaptation of Large Language Models") on the encoder's projections, with
Keras's own `enable_lora`, made safe to save, resume and export.

`enable_lora` freezes the whole encoder (embeddings, kernels, biases, LayerNorms) and gives each targeted
projection a trainable low-rank update `(alpha / rank) * A @ B`, B starting at zero: only the adapters and the
task head train. Keras 3.15 has traps around it (checked on 3.15.1), each handled here:

- `save_weights` stores the merged kernel `W + (alpha / rank) A @ B` and drops A and B. A model directory keeps
  that on purpose: it loads as a plain model, so export serves at full fine-tuning speed with no adapter code.
  The adapters go beside it (`lora_adapters.safetensors`, `lora.json` with the settings and the base model),
  and `load_with_adapters` rebuilds the unmerged model from them to train further.
- `load_weights` into a LoRA layer sets its kernel to the merged one and zeroes A and B, after which both get
  zero gradients: a resumed run would silently train biases only. Checkpoints and best-epoch weights therefore
  go through `save_weights` / `load_weights` here, which keep the base kernels and A, B in a file beside
  Keras's (`<weights>.lora.npz`) and put them back after Keras has loaded.
- Rebuilding a Dense layer resets alpha to the rank: nothing here rebuilds a layer once LoRA is on.

Keras's A for a per-head projection (query, key, value: kernel [hidden, heads, head size]) is
[hidden, heads, rank] with B [rank, head size]; for the others A is [inputs, rank] and B [rank, outputs].
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib

import keras
import numpy as np
import tensorflow as tf

from electra_tf.models.base import EncoderModel, load_encoder
from electra_tf.models.directory import read_task_info
from electra_tf.models.registry import model_class

# The projections of a keras-hub TransformerEncoder block that can carry adapters, by name.
TARGET_LAYERS = {
    "query": lambda block: block._self_attention_layer._query_dense,
    "key": lambda block: block._self_attention_layer._key_dense,
    "value": lambda block: block._self_attention_layer._value_dense,
    "attention_output": lambda block: block._self_attention_layer._output_dense,
    "intermediate": lambda block: block._feedforward_intermediate_dense,
    "output": lambda block: block._feedforward_output_dense,
}
DEFAULT_TARGETS = ("query", "value")  # Hu et al.'s choice
ADAPTERS_FILE = "lora_adapters.safetensors"
SETTINGS_FILE = "lora.json"
STATE_SUFFIX = ".lora.npz"  # beside a weights file: the base kernels and adapters Keras's file lacks
_ADAPTER_WEIGHTS = ("lora_kernel_a", "lora_kernel_b")


@dataclasses.dataclass(frozen=True)
class LoraSettings:
    """Which projections get adapters, of what rank, scaled by `alpha / rank` (alpha None: the rank, scale 1)."""

    rank: int
    alpha: float | None = None
    targets: tuple[str, ...] = DEFAULT_TARGETS

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"The LoRA rank must be at least 1, got {self.rank}.")
        unknown = sorted(set(self.targets) - set(TARGET_LAYERS))
        if unknown or not self.targets:
            raise ValueError(f"LoRA targets must be some of {', '.join(TARGET_LAYERS)}; got {list(self.targets)}.")


def enable_lora(model: EncoderModel, settings: LoraSettings, base_model: str | os.PathLike | None = None) -> None:
    """Adds adapters to `model`'s encoder and freezes everything else in it (the head still trains).

    Args:
        model: the model to fine-tune, its weights loaded.
        settings: rank, alpha and targets.
        base_model: the directory the encoder's weights come from, recorded with the adapters.
    """
    if has_lora(model):
        raise ValueError("This model has LoRA adapters already.")
    for layer in _adapted_layers(model.encoder, settings.targets).values():
        layer.enable_lora(settings.rank, lora_alpha=settings.alpha if settings.alpha is not None else settings.rank)
    model.lora = settings
    model.lora_base_model = None if base_model is None else str(base_model)
    adapters = {id(variable) for variable in adapter_variables(model)}
    for variable in model.encoder.weights:
        if id(variable) not in adapters:
            variable.trainable = False


def adapter_variables(model: EncoderModel) -> list[keras.Variable]:
    """The adapters' A and B variables, in a fixed order."""
    return list(_named_adapters(model).values())


def has_lora(model: keras.Model) -> bool:
    return getattr(model, "lora", None) is not None


def _adapted_layers(encoder, targets) -> dict[str, keras.layers.Layer]:
    return {f"{block.name}/{target}": TARGET_LAYERS[target](block)
            for block in encoder.transformer_layers for target in targets}


# --- A model directory: Keras's merged weights, and the adapters beside them ---
def save_adapters(model: EncoderModel, directory: str | os.PathLike) -> None:
    """Writes the adapters and `lora.json` into the model directory `model.save_pretrained` wrote."""
    from safetensors.numpy import save_file

    directory = pathlib.Path(directory)
    save_file({name: np.asarray(variable.numpy()) for name, variable in _named_adapters(model).items()},
              str(directory / ADAPTERS_FILE))
    (directory / SETTINGS_FILE).write_text(json.dumps(
        {**dataclasses.asdict(model.lora), "base_model": model.lora_base_model,
         "note": "model.weights.h5 holds the merged kernels; the adapters are here, the base in base_model"},
        indent=2) + "\n")


def load_with_adapters(directory: str | os.PathLike) -> EncoderModel:
    """The LoRA model saved in `directory`, unmerged, to train further: its head, the encoder of the base model
    `lora.json` names, and the adapters."""
    from safetensors.numpy import load_file

    directory = pathlib.Path(directory)
    if not (directory / SETTINGS_FILE).is_file():
        raise FileNotFoundError(f"{directory} has no {SETTINGS_FILE}: it was not fine-tuned with LoRA.")
    saved = json.loads((directory / SETTINGS_FILE).read_text())
    base_model = saved.pop("base_model")
    saved.pop("note", None)
    if not base_model or not os.path.isdir(base_model):
        raise FileNotFoundError(f"{directory / SETTINGS_FILE} names the base model {base_model!r}, which is not a "
                                "directory here: the adapters need the weights they were trained on.")
    settings = LoraSettings(**{**saved, "targets": tuple(saved["targets"])})
    model = model_class(read_task_info(directory)["task_type"]).from_pretrained(directory)
    model.encoder.set_weights(load_encoder(base_model).get_weights())
    enable_lora(model, settings, base_model)
    tensors = load_file(str(directory / ADAPTERS_FILE))
    for name, variable in _named_adapters(model).items():
        variable.assign(tensors[name])
    return model


# --- Checkpoints and best-epoch weights: exact, adapters and base kernels kept ---
def save_weights(model: keras.Model, path: str) -> None:
    """`model.save_weights(path)`, and for a LoRA model its base kernels and adapters in `path + .lora.npz`."""
    model.save_weights(path, overwrite=True)
    if has_lora(model):
        buffer = io.BytesIO()
        np.savez(buffer, **{name: np.asarray(variable.numpy()) for name, variable in _lora_variables(model).items()})
        with tf.io.gfile.GFile(path + STATE_SUFFIX, "wb") as f:
            f.write(buffer.getvalue())


def load_weights(model: keras.Model, path: str) -> None:
    """`model.load_weights(path)`, then for a LoRA model its base kernels and adapters as they were saved."""
    model.load_weights(path)
    if not has_lora(model):
        return
    if not tf.io.gfile.exists(path + STATE_SUFFIX):
        raise ValueError(f"{path} belongs to a LoRA model but {path + STATE_SUFFIX} is missing: loading it alone "
                         "would zero the adapters.")
    with tf.io.gfile.GFile(path + STATE_SUFFIX, "rb") as f:
        saved = np.load(io.BytesIO(f.read()))
        for name, variable in _lora_variables(model).items():
            variable.assign(saved[name])


def _lora_variables(model: EncoderModel) -> dict[str, keras.Variable]:
    # `_kernel` is the frozen base kernel (Keras's `kernel` property is the merged one).
    return {f"{name}/{weight}": getattr(layer, attribute)
            for name, layer in _adapted_layers(model.encoder, model.lora.targets).items()
            for weight, attribute in (("kernel", "_kernel"), *((w, w) for w in _ADAPTER_WEIGHTS))}


def _named_adapters(model: EncoderModel) -> dict[str, keras.Variable]:
    """A and B of every adapted layer by name (the names of the adapters file)."""
    return {name: variable for name, variable in _lora_variables(model).items() if not name.endswith("/kernel")}
