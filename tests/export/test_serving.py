"""Exported SavedModels answer raw text without electra_tf, as TF Serving would load them."""

import json
import pathlib
import subprocess
import sys
from unittest import mock

import numpy as np
import keras
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from electra_tf.export.serving import export_model, export_model_directory, next_version
from electra_tf.layers import attention
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
from tests.test_case import serve_in_fresh_process, tiny_config, xla_compiled_functions

LABELS = ["negative", "neutral", "positive"]
TEXTS = ["a wonderful, moving film", "", "dull " * 400, "café naïve déjà vu", "中文文本测试，很好", "ok"]


def _fine_tuned(directory: pathlib.Path, num_labels: int, label_names, text_pair: bool,
                sequence_length: int = 32) -> pathlib.Path:
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    ElectraPretrainer(config).save_pretrained(directory / "pretrained", tokenizer)
    classifier = ElectraClassifier.from_pretrained(directory / "pretrained", num_labels=num_labels,
                                                   label_names=label_names, sequence_length=sequence_length,
                                                   text_pair=text_pair)
    classifier.save_pretrained(directory / "tuned")
    return directory / "tuned"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    model_dir = _fine_tuned(root, 3, LABELS, text_pair=False)
    # exported as on a machine with GPUs, where attention's core is an XLA program in process
    with mock.patch.object(attention, "xla_core_pays_off", lambda: True):
        return model_dir, export_model_directory(model_dir, root / "saved_models" / "demo")


def test_raw_text_signature_matches_keras_in_a_fresh_process(exported):
    model_dir, saved_model = exported
    assert saved_model.name == "1"
    answer = serve_in_fresh_process(saved_model, {"text": TEXTS})
    classifier = ElectraClassifier.from_pretrained(model_dir)
    assert classifier.preprocessor.sequence_length == 32  # the fine-tuned length travels with the model
    expected = tf.nn.softmax(classifier(TEXTS)).numpy()
    np.testing.assert_allclose(np.array(answer["probabilities"]), expected, atol=1e-5)
    assert answer["labels"] == [LABELS[i] for i in expected.argmax(axis=1)]


def test_the_vocabulary_and_label_names_are_assets_and_nothing_else_is_left_behind(exported):
    model_dir, saved_model = exported
    assert (saved_model / "assets" / "vocab.txt").read_text() == (model_dir / "vocab.txt").read_text()
    assert (saved_model / "assets" / "labels.txt").read_text().splitlines() == LABELS
    assert sorted(p.name for p in saved_model.parent.iterdir()) == ["1"]  # no staging or temporary files


def test_saved_model_cli_lists_the_three_signatures(exported):
    _, saved_model = exported
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(saved_model)], capture_output=True, text=True,
                           timeout=300).stdout
    for line in ("signature_def['serving_default']", "inputs['text']", "outputs['labels']", "outputs['probabilities']",
                 "signature_def['predict_ids']", "inputs['token_ids']", "inputs['segment_ids']",
                 "inputs['padding_mask']", "outputs['logits']", "signature_def['serve_examples']",
                 "inputs['inputs']", "outputs['classes']", "outputs['scores']", "tensorflow/serving/classify"):
        assert line in shown, line


def test_warmup_requests_parse_and_are_answered(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    _, saved_model = exported
    model = tf.saved_model.load(str(saved_model))
    records = list(tf.data.TFRecordDataset(str(saved_model / "assets.extra" / "tf_serving_warmup_requests")))
    assert records
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        signature = model.signatures[request.model_spec.signature_name]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        assert signature(**inputs)["probabilities"].shape[0] == inputs["text"].shape[0]


def test_batches_of_any_size_and_odd_texts_answer(exported):
    _, saved_model = exported
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    for texts in (TEXTS[:1], (TEXTS * 11)[:64]):
        out = serve(text=tf.constant(texts))
        assert out["probabilities"].shape == (len(texts), 3)
        np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)


def test_ids_and_example_signatures_agree_with_the_text_signature(exported):
    _, saved_model = exported
    model = tf.saved_model.load(str(saved_model))
    texts = TEXTS[:3]
    by_text = model.signatures["serving_default"](text=tf.constant(texts))["probabilities"].numpy()
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))})).SerializeToString()
        for text in texts]
    by_example = model.signatures["serve_examples"](inputs=tf.constant(examples))
    np.testing.assert_allclose(by_example["scores"].numpy(), by_text, atol=1e-6)
    assert [c.decode() for c in by_example["classes"].numpy()[0]] == LABELS


def test_pair_regression_model_exports_score_and_regress_method(tmp_path):
    model_dir = _fine_tuned(tmp_path, 1, None, text_pair=True)
    saved_model = export_model_directory(model_dir, tmp_path / "saved_models" / "pairs")
    model = tf.saved_model.load(str(saved_model))
    out = model.signatures["serving_default"](text=tf.constant(["a man plays", ""]), text_b=tf.constant(["", "x"]))
    assert out["score"].shape == (2,)
    proto = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes())
    assert proto.meta_graphs[0].signature_def["serve_examples"].method_name == "tensorflow/serving/regress"


def test_graph_uses_only_core_ops_and_four_tensorflow_text_ops(exported):
    _, saved_model = exported
    proto = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    assert {op for op in ops if op not in dir(tf.raw_ops)} == {
        "NormalizeUTF8", "TFText>WhitespaceTokenizeWithOffsetsV2", "FastWordpieceTokenizeWithOffsets",
        "TFText>RoundRobinTrim"}


def test_default_export_needs_no_xla(exported):
    """TF Serving on CPU runs nothing XLA-compiled unless started with --xla_cpu_compilation_enabled."""
    _, saved_model = exported
    graph = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes()).meta_graphs[0]
    assert xla_compiled_functions(graph.graph_def) == 0


def test_default_export_holds_the_weights_as_graph_constants(exported):
    """Frozen weights: oneDNN keeps its reordered copy of a constant weight matrix (`FrozenForward`)."""
    _, saved_model = exported
    assert [name for name, _ in tf.train.list_variables(str(saved_model / "variables" / "variables"))] == [
        "_CHECKPOINTABLE_OBJECT_GRAPH"]
    graph = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes()).meta_graphs[0]
    nodes = [node for f in graph.graph_def.library.function for node in f.node_def]
    assert "ReadVariableOp" not in {node.op for node in nodes}
    # and no custom gradient, which frozen into a SavedModel cannot be saved (loading it would warn)
    assert not [node.name for node in nodes if "_gradient_op_type" in node.attr]


def test_bad_exports_are_refused(exported, tmp_path):
    model_dir, saved_model = exported
    with pytest.raises(ValueError, match="already exists"):
        export_model_directory(model_dir, saved_model.parent, version=1)
    assert next_version(saved_model.parent) == 2
    with pytest.raises(ValueError, match="'pretraining' model: fine-tune it first"):
        export_model_directory(model_dir.parent / "pretrained", tmp_path / "x")
    classifier = ElectraClassifier.from_pretrained(model_dir)
    with pytest.raises(ValueError, match="2 label names for a head of 3"):
        ElectraClassifier(classifier.config, 3, label_names=["a", "b"])
    unnamed = ElectraClassifier(classifier.config, 3, preprocessor=classifier.preprocessor)
    with pytest.raises(ValueError, match="no label names"):
        export_model(unnamed, tmp_path / "y")
    assert not (tmp_path / "y").exists()  # a failed export leaves no empty folders behind


def test_export_and_predict_commands(exported, tmp_path):
    model_dir, _ = exported
    run = lambda *args: subprocess.run([sys.executable, "-m", "electra_tf.cli", *args], capture_output=True,
                                       text=True, timeout=300)
    exported_ = run("export", "--model_dir", str(model_dir), "--export_dir", str(tmp_path / "demo"))
    assert exported_.returncode == 0, exported_.stderr[-2000:]
    assert (tmp_path / "demo" / "1" / "saved_model.pb").is_file()
    predicted = run("predict", "--model", str(tmp_path / "demo"), "--text", "a fine film", "--text", "", "--json")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    lines = [json.loads(line) for line in predicted.stdout.strip().splitlines()]
    assert [line["text"] for line in lines] == ["a fine film", ""] and all(l["label"] in LABELS for l in lines)


def test_jit_compiled_export_answers_like_keras_in_a_fresh_process(exported, tmp_path):
    model_dir, _ = exported
    result = subprocess.run([sys.executable, "-m", "electra_tf.cli", "export", "--model_dir", str(model_dir),
                             "--export_dir", str(tmp_path / "xla"), "--jit_compile"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    saved_model = tmp_path / "xla" / "1"
    graph = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes()).meta_graphs[0]
    assert xla_compiled_functions(graph.graph_def) > 0
    expected = tf.nn.softmax(ElectraClassifier.from_pretrained(model_dir)(TEXTS)).numpy()
    for texts, wanted in ((TEXTS, expected), (TEXTS[:1], expected[:1])):  # 6 texts run as a batch of 8
        answer = serve_in_fresh_process(saved_model, {"text": texts})
        np.testing.assert_allclose(np.array(answer["probabilities"]), wanted, atol=1e-5)


def test_predict_reads_texts_pairs_and_files(tmp_path):
    from electra_tf.export.predict import read_texts

    lines = tmp_path / "texts.tsv"
    lines.write_text("first\tsecond\n\nthird\tfourth\n", encoding="utf-8")
    assert read_texts(["a ||| b"], str(lines)) == [("a", "b"), ("first", "second"), ("third", "fourth")]
    assert read_texts(["only one"]) == [("only one",)]
    with pytest.raises(ValueError, match="Mix of single texts and text pairs"):
        read_texts(["one", "a ||| b"])


@pytest.mark.parametrize("sequence_length", [64, 256])
def test_a_model_serves_at_the_length_it_was_fine_tuned_at_without_a_flag(tmp_path, sequence_length):
    keras.utils.set_random_seed(7)  # an untrained model: fixed weights keep the length effect's size stable
    model_dir = _fine_tuned(tmp_path, 3, LABELS, text_pair=False, sequence_length=sequence_length)
    saved_model = export_model_directory(model_dir, tmp_path / "saved_models" / "demo")
    serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    # 400, 180 and 400 words; the first and last change topic after 120 words, so what a model sees past 128 tokens
    # moves its answer (a repeated pattern would average out to nearly the same [CLS] at any length).
    long_texts = ["the cat " * 60 + "alice queen garden rabbit " * 70, "the cat " * 90,
                  "a fine film " * 40 + "the rabbit was late " * 70]
    served = serve(text=tf.constant(long_texts))["probabilities"].numpy()
    classifier = ElectraClassifier.from_pretrained(model_dir)
    lengths = classifier.preprocessor(long_texts)["padding_mask"].numpy().sum(axis=1)
    assert lengths.max() == sequence_length  # the long text fills the model's own length, no more
    np.testing.assert_allclose(served, tf.nn.softmax(classifier(long_texts)).numpy(), atol=1e-5)
    # Served at 128 (the old fixed default), the answer would differ: the length really is the model's.
    at_128 = ElectraClassifier.from_pretrained(model_dir, sequence_length=128)
    assert np.abs(served - tf.nn.softmax(at_128(long_texts)).numpy()).max() > 1e-4
