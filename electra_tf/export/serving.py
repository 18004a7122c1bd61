"""SavedModels for TF Serving that take raw text: tokenization runs inside the graph (tensorflow-text).

A fine-tuned classifier directory becomes `export_dir/<version>/` (integer versions, as TF Serving's model base
path expects) with three signatures:

- `serving_default`: `text` (and `text_b` for pair tasks), string [batch] -> `labels` (string [batch]) and
  `probabilities` (float [batch, num_labels]); regression: -> `score` (float [batch]).
- `predict_ids`: `token_ids`, `segment_ids`, `padding_mask` (int32 [batch, length]) -> `logits`.
- `serve_examples`: `inputs`, serialized `tf.Example`s with a `text` (and `text_b`) bytes feature -> `classes`
  and `scores` (classification, method `tensorflow/serving/classify`) or `outputs` (regression, method
  `tensorflow/serving/regress`), the names TF Serving's Classify and Regress APIs read.

Over-long texts are truncated to the model's max length (longest-first for pairs); an empty string is
tokenized as `[CLS] [SEP]` and gets an answer like any other. The vocabulary and the label names are saved as
assets, and `assets.extra/tf_serving_warmup_requests` holds warm-up requests in TF Serving's PredictionLog
format. Nothing of electra_tf is needed to load or serve the result: `tf.saved_model.load` after
`import tensorflow_text` (which registers the tokenizer's ops) is enough.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from electra_tf.models import base
from electra_tf.models.base import INPUT_KEYS
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text.tokenizer import write_vocabulary

SIGNATURES = ("serving_default", "predict_ids", "serve_examples")
WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_TEXTS = ("a short request to warm the model up", "")


class ClassifierServingModule(tf.Module):
    """The exported object: a classifier with its preprocessor, label names and signatures.

    Args:
        classifier: `ElectraClassifier` with a preprocessor.
        label_names: label names (None for regression).
        text_pair: bool. Whether requests are text pairs (`text`, `text_b`).
        vocab_file: path of the vocabulary, saved as an asset.
        labels_file: path of the label names (one per line), saved as an asset; None for regression.
    """

    def __init__(self, classifier: ElectraClassifier, label_names: list[str] | None, text_pair: bool,
                 vocab_file: str | os.PathLike, labels_file: str | os.PathLike | None = None):
        super().__init__()
        base.check_label_names(label_names, classifier.num_labels)
        self.classifier = classifier
        self.preprocessor = classifier.preprocessor
        self.text_pair = text_pair
        self.regression = classifier.num_labels == 1
        self.vocab_asset = tf.saved_model.Asset(str(vocab_file))
        self.label_names = tf.constant(label_names or [], tf.string)
        if labels_file is not None:
            self.labels_asset = tf.saved_model.Asset(str(labels_file))

    def _answer(self, logits: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.regression:
            return {"score": logits[:, 0]}
        probabilities = tf.nn.softmax(logits, axis=-1)
        return {"labels": tf.gather(self.label_names, tf.argmax(logits, axis=-1)), "probabilities": probabilities}

    def _logits(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.cast(self.classifier(inputs, training=False), tf.float32)

    def _text_logits(self, texts: tuple[tf.Tensor, ...]) -> tf.Tensor:
        return self._logits(self.preprocessor(texts if self.text_pair else texts[0]))

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        text_specs = [tf.TensorSpec([None], tf.string, name="text")]
        if self.text_pair:
            text_specs.append(tf.TensorSpec([None], tf.string, name="text_b"))
        names = [spec.name for spec in text_specs]

        @tf.function(input_signature=text_specs)
        def serve_text(*texts):
            return self._answer(self._text_logits(texts))

        ids_spec = [tf.TensorSpec([None, None], tf.int32, name=name)
                    for name in INPUT_KEYS]

        @tf.function(input_signature=ids_spec)
        def predict_ids(token_ids, segment_ids, padding_mask):
            return {"logits": self._logits(dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask))))}

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


def next_version(export_dir: str | os.PathLike) -> int:
    """One more than the largest integer version in `export_dir` (1 when there is none)."""
    path = pathlib.Path(export_dir)
    versions = [int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def export_classifier(model_dir: str | os.PathLike, export_dir: str | os.PathLike, version: int | None = None,
                      max_length: int = 128) -> pathlib.Path:
    """Exports a fine-tuned classifier directory to `export_dir/<version>/`; returns that path.

    Raises:
        ValueError: the directory holds no fine-tuned classifier, its vocabulary does not
            match the model, or the version already exists (never overwritten).
    """
    model_dir = pathlib.Path(model_dir)
    task_info = base.read_task_info(model_dir)
    if task_info["task_type"] != ElectraClassifier.TASK_TYPE:
        raise ValueError(f"{model_dir} holds a {task_info['task_type']!r} model, not a fine-tuned classifier: "
                         "fine-tune it first (raw-text export serves classifiers).")
    classifier = ElectraClassifier.from_pretrained(model_dir, max_length=max_length)
    return export_serving(classifier, export_dir, task_info.get("label_names"), task_info.get("text_pair", False),
                          version=version)


def export_serving(classifier: ElectraClassifier, export_dir: str | os.PathLike, label_names: list[str] | None,
                   text_pair: bool = False, version: int | None = None) -> pathlib.Path:
    """Exports `classifier` (with its preprocessor) to `export_dir/<version>/`, the next version by default."""
    version = next_version(export_dir) if version is None else version
    target = pathlib.Path(export_dir) / str(version)
    if target.exists():
        raise ValueError(f"{target} already exists: choose another version (nothing is overwritten).")
    if classifier.preprocessor is None:
        raise ValueError("The classifier has no preprocessor: raw-text serving needs its tokenizer.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent))
    try:
        with tempfile.TemporaryDirectory() as asset_dir:  # saving copies the asset files into assets/
            vocab_file = pathlib.Path(asset_dir) / "vocab.txt"
            write_vocabulary(classifier.preprocessor.tokenizer.vocabulary, vocab_file)
            labels_file = None
            if label_names:
                labels_file = pathlib.Path(asset_dir) / "labels.txt"
                labels_file.write_text("\n".join(label_names) + "\n", encoding="utf-8")
            module = ClassifierServingModule(classifier, label_names, text_pair, vocab_file, labels_file)
            tf.saved_model.save(module, str(staging), signatures=module.signatures())
        _set_example_method(staging, "tensorflow/serving/regress" if module.regression
                            else "tensorflow/serving/classify")
        write_warmup_requests(staging, text_pair=text_pair)
        staging.rename(target)  # only a complete export appears under its version
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _set_example_method(saved_model_dir: pathlib.Path, method_name: str) -> None:
    """TF2 saves every signature as `predict`; TF Serving's Classify/Regress APIs need their own method name."""
    path = saved_model_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        meta_graph.signature_def["serve_examples"].method_name = method_name
    path.write_bytes(saved_model.SerializeToString())


def write_warmup_requests(saved_model_dir: str | os.PathLike, text_pair: bool) -> pathlib.Path:
    """Writes `assets.extra/tf_serving_warmup_requests`: PredictionLog records for `serving_default`."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name="serving_default"))
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(list(WARMUP_TEXTS)))
    if text_pair:
        request.inputs["text_b"].CopyFrom(tf.make_tensor_proto(list(reversed(WARMUP_TEXTS))))
    path = pathlib.Path(saved_model_dir) / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        writer.write(log.SerializeToString())
    return path


def newest_version(model_base_path: str | os.PathLike) -> pathlib.Path:
    """The newest integer version under a TF Serving model base path (or the path itself if it is a SavedModel)."""
    path = pathlib.Path(model_base_path)
    if (path / "saved_model.pb").is_file():
        return path
    version = next_version(path) - 1
    if version == 0:
        raise FileNotFoundError(f"No SavedModel version under {path}.")
    return path / str(version)

