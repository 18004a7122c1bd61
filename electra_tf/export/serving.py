"""SavedModels for TF Serving that take raw text: one export path for every kind of fine-tuned model.

`export_model` (or `export_model_directory`, what `electra-tf export --model_dir` runs) writes
`export_dir/<version>/`: the next integer version (as TF Serving's model base path expects), staged in a
temporary directory and renamed into place only when complete, never overwriting a version. What a kind of
model serves is its *serving module* (`ServingModule`, registered for the model's `TASK_TYPE` with `serves`):
its signatures, the TF Serving method names they need, its asset files and its warm-up request. Everything else
(versions, staging, assets, method names, warm-up records) is here once.

The model brings everything it needs from its directory: its preprocessor (tokenizer, max length, whether
requests are text pairs) and label names. Tokenization runs inside the graph (tensorflow-text): nothing of
electra_tf is needed to load or serve the result, `tf.saved_model.load` after `import tensorflow_text` (which
registers the tokenizer's ops) is enough.

Classification (`ClassifierServingModule`) has three signatures:

- `serving_default`: `text` (and `text_b` for pair tasks), string [batch] -> `labels` (string [batch]) and
  `probabilities` (float [batch, num_labels]); regression: -> `score` (float [batch]).
- `predict_ids`: `token_ids`, `segment_ids`, `padding_mask` (int32 [batch, length]) -> `logits`.
- `serve_examples`: `inputs`, serialized `tf.Example`s with a `text` (and `text_b`) bytes feature -> `classes`
  and `scores` (classification, method `tensorflow/serving/classify`) or `outputs` (regression, method
  `tensorflow/serving/regress`), the names TF Serving's Classify and Regress APIs read.

Over-long texts are truncated to the model's max length (longest-first for pairs); an empty string is
tokenized as `[CLS] [SEP]` and gets an answer like any other.

Prompt classification (`PromptClassifierServingModule`, zero- or few-shot with the RTD head) has one:
`serving_default`: `text`, string [batch] -> `labels`, `probabilities` (a softmax over the labels' scores) and
`scores` (each label word's minus mean RTD logit in the template).

Token classification (NER, `TokenClassifierServingModule`) has two signatures:

- `serving_default`: `text`, string [batch] -> the entities of each text, padded to the most any text has:
  `entity_types`, `entity_texts` (string [batch, entities]), `entity_starts`, `entity_ends` (int32 character
  offsets into the original string: `text[start:end]` is the entity), `entity_scores` (the mean probability of
  the entity's word tags) and `num_entities` (int32 [batch]); padding is `""` / -1 / 0. Texts of any length are
  cut into windows of the model's length and their words decoded together; nothing is truncated.
- `predict_ids`: `token_ids`, `segment_ids`, `padding_mask` (int32 [batch, length]) -> per-token `logits`.

Question answering (SQuAD, `QuestionAnswererServingModule`) has two signatures:

- `serving_default`: `question`, `context`, string [batch] -> `answer` (string [batch], a substring of the
  context), `start`, `end` (int32 character offsets: `context[start:end]` is the answer), `score` (the span's);
  for a model that abstains (SQuAD 2.0) also `null_score` (the null odds) and `answerable` (bool; the answer
  is "" at 0, 0 when false). Contexts of any length are cut into the model's windows and decoded together.
- `predict_ids`: `token_ids`, `segment_ids`, `padding_mask` (int32 [batch, length]) -> the head's per-window
  outputs (`start_logits`, and the original head's `answerable_logits` and beam).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from typing import Callable

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # no public alias

from electra_tf.inputs import INPUT_KEYS
from electra_tf.layers.fusion import unfused
from electra_tf.models.directory import read_task_info
from electra_tf.models.registry import model_class
from electra_tf.models.tagging import entity_chunks, label_tables, last_piece_of_word, window_piece_values
from electra_tf.text.tokenizer import VOCAB_FILE, character_offsets, write_vocabulary

WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_TEXTS = ("a short request to warm the model up", "")
LABELS_FILE = "labels.txt"
BATCH_BUCKETS = tf.constant([2 ** i for i in range(31)], tf.int32)  # XLA-compiled batch sizes

SERVING_MODULES: dict[str, type["ServingModule"]] = {}


def serves(task_type: str) -> Callable[[type], type]:
    """Class decorator: the serving module that exports models of `task_type`."""
    def register(cls: type) -> type:
        SERVING_MODULES[task_type] = cls
        return cls
    return register


class FrozenForward:
    """The model's inference pass with its weights as graph constants, frozen once per input structure (the ids,
    and any extra input a model takes) and shared by every signature that calls it.

    oneDNN multiplies by a variable weight matrix as it is stored (its plain gemm), and by a constant one in a
    blocked layout, reordered on the first call and kept: faster for short requests (ELECTRA-Small's
    [33, 256] x [256, 1024] 0.16-0.23 against 0.29-0.33 ms), and no variable reads. It keeps one layout per
    matmul, the one the first call's row count prefers (13-64 rows and >= 128 rows prefer different ones): a
    later call that prefers the other reorders the weights every time. TF Serving answers the SavedModel's
    warm-up request (two short texts) first, which keeps the short requests' layout. ELECTRA-Small's exported
    classifier on 2 CPU cores, SST-2 dev, one process taking turns with the variables' export request by
    request: warmed with short requests, batch 1 x1.21-1.25 and batch 32 x0.98-0.99; warmed with batches of 32
    first, batch 32 x1.03 and batch 1 x0.81. The weights are saved once, in the graph (which a SavedModel
    limits to 2 GB; ELECTRA-Large's weights are 1.3 GB).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.frozen: dict[tuple, tuple] = {}

    def __call__(self, inputs: dict[str, tf.Tensor]):
        spec = {name: tf.TensorSpec([None] * value.shape.rank, value.dtype, name) for name, value in inputs.items()}
        structure = tuple(sorted(spec.items()))
        if structure not in self.frozen:
            self.frozen[structure] = self.freeze(spec)
        traced, frozen = self.frozen[structure]
        # a frozen function takes and returns flat lists (inputs in the traced signature's flattened order) and
        # has lost its outputs' static shapes
        outputs = frozen(*tf.nest.flatten(inputs))
        for output, traced_output in zip(outputs, tf.nest.flatten(traced.structured_outputs)):
            output.set_shape(traced_output.shape)
        return tf.nest.pack_sequence_as(traced.structured_outputs, outputs)

    def freeze(self, spec: dict[str, tf.TensorSpec]):
        with tf.init_scope():  # eagerly, outside the signature being traced: freezing reads the variables' values
            traced = tf.function(lambda inputs: self.model(inputs, training=False)).get_concrete_function(spec)
            return traced, convert_variables_to_constants_v2(traced, lower_control_flow=False)


class ServingModule:
    """The exported signatures of one kind of model, built on the model and its preprocessor.

    The module itself is not what is saved: `export_model` saves its signatures with what they read, the asset
    files and any variables (`saved_object`). The served forward pass (`model_outputs`) holds the model's weights
    as graph constants (`FrozenForward`), or with `jit_compile` is XLA's program reading the model's variables.

    Args:
        model: a fine-tuned `EncoderModel` with a preprocessor.
        asset_dir: a directory to write asset files into (saving copies them into the SavedModel's assets/);
            the vocabulary is written here.
        jit_compile: bool. Run the model's forward pass with XLA (`model_outputs`).
    """

    def __init__(self, model: keras.Model, asset_dir: pathlib.Path, jit_compile: bool = False):
        if model.preprocessor is None:
            raise ValueError(f"The {type(model).__name__} has no preprocessor: raw-text serving needs its tokenizer.")
        self.model = model
        self.preprocessor = model.preprocessor
        self.jit_compile = jit_compile
        self.forward = (tf.function(lambda inputs: model(inputs, training=False), jit_compile=True)
                        if jit_compile else FrozenForward(model))
        self.asset_dir = asset_dir
        self.assets: list[tf.saved_model.Asset] = []
        write_vocabulary(self.preprocessor.tokenizer.vocabulary, asset_dir / VOCAB_FILE)
        self.assets.append(tf.saved_model.Asset(str(asset_dir / VOCAB_FILE)))

    def add_label_names_asset(self, label_names: list[str]) -> None:
        """Writes the label names, one a line, as the asset `labels.txt`."""
        (self.asset_dir / LABELS_FILE).write_text("\n".join(label_names) + "\n", encoding="utf-8")
        self.assets.append(tf.saved_model.Asset(str(self.asset_dir / LABELS_FILE)))

    @property
    def text_names(self) -> list[str]:
        """The raw-text inputs of a request: `text`, and `text_b` when the model reads pairs."""
        return ["text", "text_b"] if self.preprocessor.text_pair else ["text"]

    def model_outputs(self, inputs: dict[str, tf.Tensor]):
        """The model's outputs (inference mode) for id inputs [batch, length]: `FrozenForward`'s.

        Exported with `jit_compile`, XLA runs the forward pass: it fuses what TensorFlow runs as hundreds of
        small ops, most of a short request's time (ELECTRA-Small on 2 CPU cores: batch 1 x1.13 against the frozen
        forward pass, batches of 32 x0.62). XLA compiles once per input shape, so the batch is padded to a power
        of two here (the preprocessor already rounds the length up to a multiple of 16): at most
        sequence_length / 16 x log2(largest batch) programs, each compiled on the first request of its shape.
        """
        if not self.jit_compile:
            return self.forward(inputs)
        batch = tf.shape(inputs["token_ids"])[0]
        padded_batch = tf.gather(BATCH_BUCKETS, tf.searchsorted(BATCH_BUCKETS, batch[None])[0])
        padded = {name: tf.pad(value, [[0, padded_batch - batch]] + [[0, 0]] * (value.shape.rank - 1))
                  for name, value in inputs.items()}
        return tf.nest.map_structure(lambda output: output[:batch], self.forward(padded))

    def logits(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        """The model's float32 logits for id inputs."""
        return tf.cast(self.model_outputs(inputs), tf.float32)

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The SavedModel's signatures, `serving_default` first."""
        raise NotImplementedError

    def method_names(self) -> dict[str, str]:
        """TF Serving method names of signatures that are not `predict` (TF2 saves every one as predict)."""
        return {}

    def warmup_request(self) -> dict[str, list[str]]:
        """The inputs of a `serving_default` warm-up request."""
        texts = list(WARMUP_TEXTS)
        return {name: texts if i == 0 else texts[::-1] for i, name in enumerate(self.text_names)}


@serves("classification")
class ClassifierServingModule(ServingModule):
    """A classifier (or regressor) with its preprocessor and label names; its label names are an asset too."""

    def __init__(self, model: keras.Model, asset_dir: pathlib.Path, jit_compile: bool = False):
        super().__init__(model, asset_dir, jit_compile)
        self.regression = model.num_labels == 1
        if not self.regression and model.label_names is None:
            raise ValueError("The classifier has no label names: give label_names when building it.")
        self.label_names = tf.constant(model.label_names or [], tf.string)
        if not self.regression:
            self.add_label_names_asset(model.label_names)

    def _text_logits(self, texts: tuple[tf.Tensor, ...]) -> tf.Tensor:
        return self.logits(self.preprocessor(texts if len(texts) == 2 else texts[0]))

    def _answer(self, logits: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.regression:
            return {"score": logits[:, 0]}
        return {"labels": tf.gather(self.label_names, tf.argmax(logits, axis=-1)),
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def signatures(self):
        names = self.text_names

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=name) for name in names])
        def serve_text(*texts):
            return self._answer(self._text_logits(texts))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_KEYS])
        def predict_ids(token_ids, segment_ids, padding_mask):
            return {"logits": self.logits(dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask))))}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def serve_examples(inputs):
            features = tf.io.parse_example(inputs, {name: tf.io.FixedLenFeature([], tf.string, default_value="")
                                                    for name in names})
            logits = self._text_logits(tuple(features[name] for name in names))
            if self.regression:
                return {"outputs": logits[:, 0]}
            batch = tf.shape(logits)[0]
            return {"classes": tf.tile(self.label_names[None, :], [batch, 1]),
                    "scores": tf.nn.softmax(logits, axis=-1)}

        return {"serving_default": serve_text.get_concrete_function(),
                "predict_ids": predict_ids.get_concrete_function(),
                "serve_examples": serve_examples.get_concrete_function()}

    def method_names(self) -> dict[str, str]:
        return {"serve_examples": "tensorflow/serving/regress" if self.regression else "tensorflow/serving/classify"}


@serves("prompt_classification")
class PromptClassifierServingModule(ClassifierServingModule):
    """A prompt classifier (the discriminator judging each label word in a template): one signature, raw text in."""

    def signatures(self):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            scores = self.logits(self.preprocessor(text))
            return {**self._answer(scores), "scores": scores}

        return {"serving_default": serve_text.get_concrete_function()}

    def method_names(self) -> dict[str, str]:
        return {}


@serves("token_classification")
class TokenClassifierServingModule(ServingModule):
    """A tagger with its word-window preprocessor: raw text in, entities with character offsets out."""

    def __init__(self, model: keras.Model, asset_dir: pathlib.Path, jit_compile: bool = False):
        super().__init__(model, asset_dir, jit_compile)
        if model.label_names is None:
            raise ValueError("The tagger has no label names: give label_names when building it.")
        prefix_codes, self.type_ids, types = label_tables(model.label_names)
        self.prefix_codes = prefix_codes
        self.type_names = tf.constant(types or [""], tf.string)
        self.add_label_names_asset(model.label_names)

    def entities(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        encoded = self.preprocessor.encode_texts(texts)
        word_start = encoded["word_start"]
        piece_logits = window_piece_values(self.logits({name: encoded[name] for name in INPUT_KEYS}),
                                           encoded["padding_mask"], word_start.row_lengths())
        word_logits = tf.ragged.boolean_mask(piece_logits, word_start)
        word_mask = tf.sequence_mask(word_logits.row_lengths())
        dense_logits = word_logits.to_tensor()
        tags = self.model.decode(dense_logits, word_mask)
        tag_probability = tf.gather(tf.nn.softmax(dense_logits), tags, axis=2, batch_dims=2)
        chunks = entity_chunks(tags, word_mask, self.prefix_codes, self.type_ids)
        rows, first, last = chunks["row"], chunks["start"], chunks["end"] - 1
        # Byte spans of the words (first piece's start, last piece's end), then of the entities.
        word_bytes_start = tf.ragged.boolean_mask(encoded["piece_starts"], word_start).to_tensor()
        word_bytes_end = tf.ragged.boolean_mask(encoded["piece_ends"], last_piece_of_word(word_start)).to_tensor()
        byte_start = tf.gather_nd(word_bytes_start, tf.stack([rows, first], axis=1))
        byte_end = tf.gather_nd(word_bytes_end, tf.stack([rows, last], axis=1))
        entity_text_of = tf.gather(texts, rows)
        entity_words = tf.ragged.range(first, last + 1)
        word_rows = tf.gather(rows, entity_words.value_rowids())
        score = tf.reduce_mean(entity_words.with_flat_values(
            tf.gather_nd(tag_probability, tf.stack([word_rows, entity_words.flat_values], axis=1))), axis=1)
        per_entity = {
            "entity_types": (tf.gather(self.type_names, chunks["type"]), ""),
            "entity_texts": (tf.strings.substr(entity_text_of, byte_start, byte_end - byte_start), ""),
            "entity_starts": (character_offsets(entity_text_of, byte_start), -1),
            "entity_ends": (character_offsets(entity_text_of, byte_end), -1),
            "entity_scores": (score, 0.0),
        }
        num_texts = tf.shape(texts, out_type=tf.int64)[0]
        answer = {name: tf.RaggedTensor.from_value_rowids(values, tf.cast(rows, tf.int64), nrows=num_texts)
                  .to_tensor(default_value=tf.cast(padding, values.dtype))
                  for name, (values, padding) in per_entity.items()}
        answer["num_entities"] = tf.math.bincount(rows, minlength=tf.cast(num_texts, tf.int32), dtype=tf.int32)
        return answer

    def signatures(self):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve_text(text):
            return self.entities(text)

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_KEYS])
        def predict_ids(token_ids, segment_ids, padding_mask):
            return {"logits": self.logits(dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask))))}

        return {"serving_default": serve_text.get_concrete_function(),
                "predict_ids": predict_ids.get_concrete_function()}


@serves("question_answering")
class QuestionAnswererServingModule(ServingModule):
    """A reader with its window preprocessor: a question and a context in, the answer decoded in the graph out
    (`ElectraQuestionAnswerer.answer`, the same decoding as evaluation), with the model's no-answer threshold."""

    @property
    def text_names(self) -> list[str]:
        return ["question", "context"]

    def signatures(self):
        abstains = self.model.null_threshold is not None

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=name) for name in self.text_names])
        def serve_text(question, context):
            answers = self.model.answer(question, context, forward=self.model_outputs)
            served = {name: answers[name] for name in ("answer", "start", "end", "score")}
            if abstains:
                served.update(null_score=answers["null_odds"], answerable=answers["answerable"])
            return served

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_KEYS])
        def predict_ids(token_ids, segment_ids, padding_mask):
            return self.model_outputs(dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask))))

        return {"serving_default": serve_text.get_concrete_function(),
                "predict_ids": predict_ids.get_concrete_function()}


def export_model_directory(model_dir: str | os.PathLike, export_dir: str | os.PathLike,
                           version: int | None = None, jit_compile: bool = False) -> pathlib.Path:
    """Exports the fine-tuned model of a model directory, as it was trained (its max length, pair-ness and
    labels come from the directory); returns the version's path. `jit_compile`: as in `export_model`.

    Raises:
        ValueError: no serving module exports the directory's kind of model, its vocabulary does not match the
            model, or the version already exists (never overwritten).
    """
    task_type = read_task_info(model_dir)["task_type"]
    if task_type not in SERVING_MODULES:
        raise ValueError(f"{model_dir} holds a {task_type!r} model: fine-tune it first (raw-text export serves "
                         f"{', '.join(sorted(SERVING_MODULES))} models).")
    return export_model(model_class(task_type).from_pretrained(model_dir), export_dir, version, jit_compile)


def export_model(model: keras.Model, export_dir: str | os.PathLike, version: int | None = None,
                 jit_compile: bool = False) -> pathlib.Path:
    """Exports `model` (with its preprocessor) to `export_dir/<version>/`, the next version by default; with
    `jit_compile` the served forward pass runs with XLA (`ServingModule.model_outputs`), without it nothing in
    the SavedModel needs XLA (`xla_fused` functions are traced unfused) and the weights are graph constants
    (`FrozenForward`)."""
    if model.TASK_TYPE not in SERVING_MODULES:
        raise ValueError(f"No serving module for {model.TASK_TYPE!r} models; exported kinds: "
                         f"{', '.join(sorted(SERVING_MODULES))}.")
    version = next_version(export_dir) if version is None else version
    target = pathlib.Path(export_dir) / str(version)
    if target.exists():
        raise ValueError(f"{target} already exists: choose another version (nothing is overwritten).")
    created = [path for path in (target.parent, *target.parent.parents) if not path.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent))
    try:
        # saving copies the asset files into assets/; TF Serving on CPU runs no XLA unless told to
        with tempfile.TemporaryDirectory() as asset_dir, unfused():
            module = SERVING_MODULES[model.TASK_TYPE](model, pathlib.Path(asset_dir), jit_compile)
            signatures = module.signatures()
            tf.saved_model.save(saved_object(module.assets, signatures), str(staging), signatures=signatures)
        _set_method_names(staging, module.method_names())
        write_warmup_requests(staging, module.warmup_request())
        staging.rename(target)  # only a complete export appears under its version
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for path in created:  # the folders this export made, innermost first: a failed export leaves nothing
            path.rmdir()
        raise
    return target


def saved_object(assets: list[tf.saved_model.Asset],
                 signatures: dict[str, tf.types.experimental.ConcreteFunction]) -> tf.Module:
    """What a SavedModel holds besides its signatures: the asset files and the variables the signatures read
    (none for a frozen forward pass but, say, a CRF's transitions; every weight for an XLA-compiled one)."""
    saved = tf.Module()
    saved.assets = assets
    saved.signature_variables = list({id(variable): variable for signature in signatures.values()
                                      for variable in read_variables(signature)}.values())
    return saved


def read_variables(function: tf.types.experimental.ConcreteFunction) -> list[tf.Variable]:
    """The variables whose handles `function` captures. (`function.variables` lists every variable read while it
    was traced, in functions traced inside it too: `FrozenForward` reads every weight as it freezes them.)"""
    captured = {id(tensor) for tensor in function.captured_inputs}
    return [variable for variable in function.variables if id(variable.handle) in captured]


def next_version(export_dir: str | os.PathLike) -> int:
    """One more than the largest integer version in `export_dir` (1 when there is none)."""
    path = pathlib.Path(export_dir)
    versions = [int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def newest_version(model_base_path: str | os.PathLike) -> pathlib.Path:
    """The newest integer version under a TF Serving model base path (or the path itself if it is a SavedModel)."""
    path = pathlib.Path(model_base_path)
    if (path / "saved_model.pb").is_file():
        return path
    version = next_version(path) - 1
    if version == 0:
        raise FileNotFoundError(f"No SavedModel version under {path}.")
    return path / str(version)


def _set_method_names(saved_model_dir: pathlib.Path, method_names: dict[str, str]) -> None:
    """TF2 saves every signature as `predict`; TF Serving's Classify/Regress APIs need their own method name."""
    path = saved_model_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        for signature, method_name in method_names.items():
            meta_graph.signature_def[signature].method_name = method_name
    path.write_bytes(saved_model.SerializeToString())


def write_warmup_requests(saved_model_dir: str | os.PathLike, inputs: dict[str, list[str]]) -> pathlib.Path:
    """Writes `assets.extra/tf_serving_warmup_requests`: a PredictionLog record for `serving_default`."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name="serving_default"))
    for name, values in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
    path = pathlib.Path(saved_model_dir) / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        writer.write(log.SerializeToString())
    return path
