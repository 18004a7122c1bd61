"""Hugging Face ELECTRA checkpoints (`config.json` + `model.safetensors` + `vocab.txt`) <-> electra_tf models.

Weights are read with the safetensors library only: a PyTorch `.bin` is a pickle, which can run code when
loaded, so it is refused with a message saying how to convert it. Loading fails loudly, as nanoGPT's does:
every source tensor must be consumed exactly once and every shape must match, and nothing is assigned
until all checks pass (no half-loaded model).

Example:
```python
from electra_tf.convert.hf import encoder_links
from electra_tf.config import ElectraConfig
from electra_tf.models.backbone import ElectraBackbone
config = ElectraConfig.from_preset("tiny", vocab_size=120, num_hidden_layers=1)
names = [link.name for link in encoder_links(ElectraBackbone(config).encoder)]
assert "electra.encoder.layer.0.attention.self.query.weight" in names and len(names) == 23
```
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Callable

import keras
import numpy as np

from electra_tf.config import ElectraConfig
from electra_tf.layers.embeddings import ElectraEmbeddings
from electra_tf.layers.encoder import ElectraEncoder
from electra_tf.models.directory import check_vocabulary
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.discriminator import ElectraDiscriminator
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from electra_tf.models.token_classifier import ElectraTokenClassifier
from electra_tf.text.preprocessor import ElectraPreprocessor
from electra_tf.text.tokenizer import WordPieceTokenizer, load_tokenizer, save_tokenizer, special_token_ids

# Tensors Hugging Face may store that carry no weights of ours.
_IGNORED = ("electra.embeddings.position_ids",)


@dataclasses.dataclass(frozen=True)
class WeightLink:
    """One Hugging Face tensor and the Keras variable it becomes, with the layout change between them."""

    name: str
    variable: keras.Variable
    to_keras: Callable[[np.ndarray, tuple], np.ndarray]
    to_hf: Callable[[np.ndarray], np.ndarray]


# How a Hugging Face tensor becomes a Keras variable and back: (to_keras(array, keras_shape), to_hf(value)).
# torch Linear weights are [out, in], Keras kernels [in, out]; Keras attention kernels split the heads:
# query/key/value [in, heads, head_dim], output [heads, head_dim, out].
_LAYOUTS = {
    "same": (lambda array, shape: array, lambda value: value),
    "linear": (lambda array, shape: array.T, lambda value: value.T),
    "attention_in": (lambda array, shape: array.T.reshape(shape), lambda value: value.reshape(value.shape[0], -1).T),
    "attention_out": (lambda array, shape: array.T.reshape(shape), lambda value: value.reshape(-1, value.shape[-1]).T),
    "attention_bias": (lambda array, shape: array.reshape(shape), lambda value: value.reshape(-1)),
}


def _link(name: str, variable: keras.Variable, layout: str) -> WeightLink:
    to_keras, to_hf = _LAYOUTS[layout]
    return WeightLink(name, variable, to_keras, to_hf)


def dense_links(prefix: str, layer: keras.layers.Layer, layout: str = "linear") -> list[WeightLink]:
    """`prefix.weight` and `prefix.bias` of a Dense (or attention projection) layer."""
    bias_layout = "attention_bias" if layer.bias.ndim == 2 else "same"
    return [_link(f"{prefix}.weight", layer.kernel, layout), _link(f"{prefix}.bias", layer.bias, bias_layout)]


def _layer_norm(prefix: str, layer: keras.layers.LayerNormalization) -> list[WeightLink]:
    return [_link(f"{prefix}.weight", layer.gamma, "same"), _link(f"{prefix}.bias", layer.beta, "same")]


def encoder_links(encoder: ElectraEncoder, prefix: str = "electra.") -> list[WeightLink]:
    """The Hugging Face name of every weight of a built encoder (embeddings included)."""
    embeddings = encoder.embeddings
    if not isinstance(embeddings, ElectraEmbeddings):
        raise ValueError("This encoder reads gradient-disentangled embeddings (a GDES pre-trainer's discriminator): "
                         "convert `pretrainer.standalone_tower('discriminator')`, whose tables are E_G + E_delta.")
    links = [
        _link(f"{prefix}embeddings.word_embeddings.weight", embeddings.token_embedding.embeddings, "same"),
        _link(f"{prefix}embeddings.position_embeddings.weight",
              embeddings.position_embedding.position_embeddings, "same"),
        _link(f"{prefix}embeddings.token_type_embeddings.weight", embeddings.segment_embedding.embeddings, "same"),
        *_layer_norm(f"{prefix}embeddings.LayerNorm", embeddings.layer_norm),
    ]
    if encoder.embeddings_projection is not None:
        links += dense_links(f"{prefix}embeddings_project", encoder.embeddings_projection)
    for i, block in enumerate(encoder.transformer_layers):
        layer = f"{prefix}encoder.layer.{i}"
        # keras-hub's TransformerEncoder keeps its sublayers in private attributes (pinned keras-hub version).
        attention = block._self_attention_layer
        links += [
            *dense_links(f"{layer}.attention.self.query", attention.query_dense, "attention_in"),
            *dense_links(f"{layer}.attention.self.key", attention.key_dense, "attention_in"),
            *dense_links(f"{layer}.attention.self.value", attention.value_dense, "attention_in"),
            *dense_links(f"{layer}.attention.output.dense", attention.output_dense, "attention_out"),
            *_layer_norm(f"{layer}.attention.output.LayerNorm", block._self_attention_layer_norm),
            *dense_links(f"{layer}.intermediate.dense", block._feedforward_intermediate_dense),
            *dense_links(f"{layer}.output.dense", block._feedforward_output_dense),
            *_layer_norm(f"{layer}.output.LayerNorm", block._feedforward_layer_norm),
        ]
    return links


# --- Reading and writing ---
def read_safetensors(directory: str | pathlib.Path) -> dict[str, np.ndarray]:
    """The tensors of `directory/model.safetensors`; a pickled PyTorch checkpoint is refused."""
    from safetensors.numpy import load_file

    directory = pathlib.Path(directory)
    path = directory / "model.safetensors"
    if not path.is_file():
        if (directory / "pytorch_model.bin").is_file():
            raise ValueError(
                f"{directory} holds only pytorch_model.bin, a pickle that can run code when loaded; it is not read. "
                "Convert it once where you trust it: `from transformers import AutoModel; "
                "AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`.")
        raise FileNotFoundError(f"{directory} has no model.safetensors.")
    try:
        return {name: np.asarray(value, dtype=np.float32) for name, value in load_file(str(path)).items()}
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error


def read_config(directory: str | pathlib.Path, special_token_ids: dict[str, int] | None = None) -> ElectraConfig:
    """The `ElectraConfig` of a Hugging Face directory (special token ids from the vocabulary when given)."""
    path = pathlib.Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no config.json.")
    values = json.loads(path.read_text())
    if values.get("model_type") != "electra":
        raise ValueError(f"{path} describes a {values.get('model_type')!r} model, not 'electra'.")
    return ElectraConfig.from_dict({**values, **(special_token_ids or {})})


def assign(links: list[WeightLink], tensors: dict[str, np.ndarray], source: str) -> None:
    """Assigns every linked tensor after checking names and shapes; every source tensor must be used."""
    names = [link.name for link in links]
    missing = [name for name in names if name not in tensors]
    unused = sorted(set(tensors) - set(names) - set(_IGNORED))
    if missing or unused:
        raise ValueError(f"{source} does not match the model: missing {missing[:5]}{'...' if len(missing) > 5 else ''}"
                         f", unexpected {unused[:5]}{'...' if len(unused) > 5 else ''}.")
    values = []
    for link in links:
        shape = tuple(link.variable.shape)
        try:
            value = link.to_keras(tensors[link.name], shape)
        except ValueError as error:
            raise ValueError(f"{source}: {link.name} {tensors[link.name].shape} does not fit {shape}: {error}") from None
        if value.shape != shape:
            raise ValueError(f"{source}: {link.name} has shape {tensors[link.name].shape}, the model needs {shape}.")
        values.append(value)
    for link, value in zip(links, values):
        link.variable.assign(value)


def export_tensors(links: list[WeightLink]) -> dict[str, np.ndarray]:
    """The Hugging Face tensors of linked Keras variables."""
    return {link.name: np.ascontiguousarray(link.to_hf(np.asarray(link.variable.numpy()))) for link in links}


# --- Whole models ---
def _prefix(tensors: dict[str, np.ndarray]) -> str:
    """`electra.` in task models' files; none in a bare `ElectraModel`'s."""
    return "electra." if any(name.startswith("electra.") for name in tensors) else ""


def discriminator_links(discriminator: ElectraDiscriminator, prefix: str = "electra.") -> list[WeightLink]:
    head = discriminator.head
    return [*encoder_links(discriminator.encoder, prefix), *dense_links("discriminator_predictions.dense", head.dense),
            *dense_links("discriminator_predictions.dense_prediction", head.dense_prediction)]


def generator_links(generator: ElectraGenerator, prefix: str = "electra.") -> list[WeightLink]:
    head = generator.head
    return [*encoder_links(generator.encoder, prefix), *dense_links("generator_predictions.dense", head.dense),
            *_layer_norm("generator_predictions.LayerNorm", head.layer_norm),
            _link("generator_lm_head.bias", head.output_bias, "same")]


def classifier_links(classifier: ElectraClassifier, prefix: str = "electra.") -> list[WeightLink]:
    if classifier.head != "huggingface":
        raise ValueError("Hugging Face classifiers have the two-layer head: build the classifier with "
                         "head='huggingface'.")
    return [*encoder_links(classifier.encoder, prefix), *dense_links("classifier.dense", classifier.dense),
            *dense_links("classifier.out_proj", classifier.logits)]


def token_classifier_links(tagger: ElectraTokenClassifier, prefix: str = "electra.") -> list[WeightLink]:
    return [*encoder_links(tagger.encoder, prefix), *dense_links("classifier", tagger.logits)]


def question_answerer_links(reader: ElectraQuestionAnswerer, prefix: str = "electra.") -> list[WeightLink]:
    if reader.head != "huggingface":
        raise ValueError("Hugging Face question answering has a single Dense(2) head: build the model with "
                         "head='huggingface'.")
    return [*encoder_links(reader.encoder, prefix), *dense_links("qa_outputs", reader.span_logits)]


def _config_and_tokenizer(directory) -> tuple[ElectraConfig, WordPieceTokenizer]:
    tokenizer = load_tokenizer(directory)
    config = read_config(directory, special_token_ids(tokenizer))
    check_vocabulary(tokenizer, config, str(directory))
    return config, tokenizer


def _load(directory, make_model: Callable[[ElectraConfig, dict, WordPieceTokenizer], keras.Model],
          links_of: Callable[[keras.Model, str], list[WeightLink]]) -> tuple:
    """(model, tokenizer) of a Hugging Face directory: `make_model(config, tensors, tokenizer)` builds the model,
    `links_of(model, prefix)` names its weights."""
    config, tokenizer = _config_and_tokenizer(directory)
    tensors = read_safetensors(directory)
    model = make_model(config, tensors, tokenizer)
    assign(links_of(model, _prefix(tensors)), tensors, str(directory))
    return model, tokenizer


def _head_size(tensors: dict[str, np.ndarray], name: str, directory, head: str) -> int:
    if name not in tensors:
        raise ValueError(f"{directory} holds no {head} head ({name} is missing).")
    return tensors[name].shape[0]


def load_backbone(directory) -> tuple[ElectraBackbone, WordPieceTokenizer]:
    """An `ElectraModel` directory (no head) as an `ElectraBackbone`."""
    return _load(directory, lambda config, tensors, tokenizer: ElectraBackbone(config),
                 lambda backbone, prefix: encoder_links(backbone.encoder, prefix))


def load_discriminator(directory) -> tuple[ElectraDiscriminator, WordPieceTokenizer]:
    """An `ElectraForPreTraining` directory as an `ElectraDiscriminator` (with its RTD head)."""
    return _load(directory, lambda config, tensors, tokenizer: ElectraDiscriminator(config), discriminator_links)


def load_generator(directory) -> tuple[ElectraGenerator, WordPieceTokenizer]:
    """An `ElectraForMaskedLM` directory as an `ElectraGenerator` (its softmax tied to its word embeddings)."""
    def make_generator(config, tensors, tokenizer):
        tied = tensors.pop("generator_lm_head.weight", None)
        embeddings = tensors.get(f"{_prefix(tensors)}embeddings.word_embeddings.weight")
        if tied is not None and not np.array_equal(tied, embeddings):
            raise ValueError(f"{directory}: generator_lm_head.weight is not tied to the word embeddings; "
                             "ELECTRA's generator shares them.")
        return ElectraGenerator(config)

    return _load(directory, make_generator, generator_links)


def load_classifier(directory) -> tuple[ElectraClassifier, WordPieceTokenizer]:
    """An `ElectraForSequenceClassification` directory as an `ElectraClassifier` with the Hugging Face head, its
    label names from `id2label`."""
    return _load(directory, lambda config, tensors, tokenizer: ElectraClassifier(
        config, label_names=label_names(directory, _head_size(tensors, "classifier.out_proj.bias", directory,
                                                              "sequence-classification")),
        head="huggingface", preprocessor=ElectraPreprocessor(tokenizer)), classifier_links)


def load_token_classifier(directory) -> tuple[ElectraTokenClassifier, WordPieceTokenizer]:
    """An `ElectraForTokenClassification` directory as an `ElectraTokenClassifier`, its label names from
    `id2label`."""
    return _load(directory, lambda config, tensors, tokenizer: ElectraTokenClassifier(
        config, label_names=label_names(directory, _head_size(tensors, "classifier.bias", directory,
                                                              "token-classification"))), token_classifier_links)


def load_question_answerer(directory) -> tuple[ElectraQuestionAnswerer, WordPieceTokenizer]:
    """An `ElectraForQuestionAnswering` directory as an `ElectraQuestionAnswerer` with the Hugging Face head."""
    def make_reader(config, tensors, tokenizer):
        if _head_size(tensors, "qa_outputs.bias", directory, "question-answering") != 2:
            raise ValueError(f"{directory}: qa_outputs has {tensors['qa_outputs.bias'].shape[0]} outputs, not 2 "
                             "(start, end).")
        return ElectraQuestionAnswerer(config, head="huggingface")

    return _load(directory, make_reader, question_answerer_links)


def label_names(directory, num_labels: int) -> list[str]:
    """The label names of a Hugging Face directory's `id2label` (the index when a label has no name)."""
    id2label = json.loads((pathlib.Path(directory) / "config.json").read_text()).get("id2label") or {}
    return [id2label.get(str(i), str(i)) for i in range(num_labels)]


def load_pretrainer(discriminator_dir, generator_dir) -> tuple:
    """An `ElectraForPreTraining` and an `ElectraForMaskedLM` directory as one `(ElectraPretrainer, tokenizer)`,
    embeddings re-tied.

    The shared embeddings come from the discriminator (the generator's copy is checked for shape and
    dropped); the generator's size must be the one ELECTRA derives from the discriminator's (`generator_config`).
    """
    from electra_tf.config import generator_config
    from electra_tf.models.pretrainer import ElectraPretrainer

    config, tokenizer = _config_and_tokenizer(discriminator_dir)
    generator_values, _ = _config_and_tokenizer(generator_dir)
    if load_tokenizer(generator_dir).vocabulary != tokenizer.vocabulary:
        raise ValueError(f"{generator_dir} and {discriminator_dir} have different vocabularies.")
    config = dataclasses.replace(
        config, generator_hidden_size=generator_values.hidden_size / config.hidden_size,
        generator_layers=generator_values.num_hidden_layers / config.num_hidden_layers)
    derived = generator_config(config)
    for field in ("hidden_size", "num_attention_heads", "intermediate_size", "num_hidden_layers", "embedding_size"):
        if getattr(derived, field) != getattr(generator_values, field):
            raise ValueError(f"{generator_dir}: the generator's {field} is {getattr(generator_values, field)}, but "
                             f"ELECTRA derives {getattr(derived, field)} from the discriminator.")
    pretrainer = ElectraPretrainer(config)
    discriminator_tensors = read_safetensors(discriminator_dir)
    assign(discriminator_links(pretrainer.discriminator, _prefix(discriminator_tensors)), discriminator_tensors,
           str(discriminator_dir))
    generator_tensors = read_safetensors(generator_dir)
    prefix = _prefix(generator_tensors)
    generator_tensors.pop("generator_lm_head.weight", None)
    shared = {link.name for link in encoder_links(pretrainer.generator.encoder, prefix)
              if ".embeddings." in link.name}
    links = [link for link in generator_links(pretrainer.generator, prefix) if link.name not in shared]
    for name in shared:  # re-tied to the discriminator's: only the shapes must agree
        if generator_tensors.pop(name).shape != discriminator_tensors[name.replace(prefix, "electra.", 1)].shape:
            raise ValueError(f"{generator_dir}: {name} does not have the discriminator's shape.")
    assign(links, generator_tensors, str(generator_dir))
    return pretrainer, tokenizer


def save_discriminator(discriminator: ElectraDiscriminator, tokenizer: WordPieceTokenizer,
                       directory: str | pathlib.Path) -> None:
    """Writes an `ElectraForPreTraining` directory that transformers loads: config, safetensors, vocabulary."""
    _save(export_tensors(discriminator_links(discriminator)), discriminator.config, tokenizer, directory,
          "ElectraForPreTraining")


def save_generator(generator: ElectraGenerator, tokenizer: WordPieceTokenizer, directory: str | pathlib.Path) -> None:
    """Writes an `ElectraForMaskedLM` directory (its config is the generator's own size)."""
    # The tied softmax weight is stored once, under the word embeddings' name, as transformers does.
    _save(export_tensors(generator_links(generator)), generator.config, tokenizer, directory, "ElectraForMaskedLM")


def _save(tensors: dict[str, np.ndarray], config: ElectraConfig, tokenizer: WordPieceTokenizer,
          directory: str | pathlib.Path, architecture: str) -> None:
    from safetensors.numpy import save_file

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    hf_config = {key: value for key, value in config.to_dict().items() if key in _HF_CONFIG_KEYS}
    hf_config["architectures"] = [architecture]
    (directory / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    save_tokenizer(tokenizer, directory)


# The keys of a transformers ElectraConfig (ours has more: generator size, masking, special ids).
_HF_CONFIG_KEYS = frozenset({
    "model_type", "vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
    "max_position_embeddings", "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id"})
