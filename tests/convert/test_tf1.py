"""Original TF1 checkpoints: written here with the original variable names, loaded, and checked against the
same weights loaded through the Hugging Face route, and the task heads against a NumPy transcription of the
original's head code (google-research/electra finetune/{classification,tagging,qa})."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import erf, log_softmax, softmax

from electra_tf.convert import hf, tf1
from electra_tf.text import WordPieceTokenizer

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf"
REFERENCE = np.load(FIXTURES / "outputs.npz")
INPUTS = {"token_ids": REFERENCE["input_ids"], "segment_ids": REFERENCE["token_type_ids"],
          "padding_mask": REFERENCE["attention_mask"]}
HIDDEN = 32  # the fixture discriminator's hidden size


def _save(prefix: pathlib.Path, tensors: dict[str, np.ndarray]) -> pathlib.Path:
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[name]) for name in names])
    return prefix


def _tf1_tensors(links: list[hf.WeightLink]) -> dict[str, np.ndarray]:
    """Linked Keras variables under their original names and layouts."""
    tensors = {}
    for name, value in hf.export_tensors(links).items():
        tensors[tf1.tf1_name(name)] = value.T if tf1.tf1_name(name).endswith("/kernel") else value
    return tensors


def _discriminator_tensors(with_head: bool = True) -> dict[str, np.ndarray]:
    """The HF fixture's discriminator encoder (and RTD head) under the original names, with optimizer slots."""
    tensors = {}
    for name, value in hf.read_safetensors(FIXTURES / "discriminator").items():
        if not with_head and name.startswith("discriminator_predictions"):
            continue
        original = tf1.tf1_name(name)
        tensors[original] = value.T if original.endswith("/kernel") else value
        tensors[f"{original}/adam_m"] = np.zeros_like(tensors[original])
    tensors["global_step"] = np.array(1000, np.int64)
    return tensors


def _config():
    return hf.load_discriminator(FIXTURES / "discriminator")[0].config


def _head_tensors(task: str, shapes: dict[str, tuple[int, int]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer, (inputs, outputs) in shapes.items():
        tensors[f"task_specific/{task}/{layer}/kernel"] = rng.normal(0, 0.3, (inputs, outputs)).astype(np.float32)
        tensors[f"task_specific/{task}/{layer}/bias"] = rng.normal(0, 0.3, (outputs,)).astype(np.float32)
    return tensors


def _dense(x, tensors, scope, gelu=False):
    y = x @ tensors[f"{scope}/kernel"] + tensors[f"{scope}/bias"]
    return y * 0.5 * (1.0 + erf(y / np.sqrt(2.0))) if gelu else y


def test_tf1_checkpoint_matches_the_huggingface_route(tmp_path):
    path = _save(tmp_path / "model.ckpt-1000", _discriminator_tensors())
    reference, _ = hf.load_discriminator(FIXTURES / "discriminator")
    config = reference.config
    discriminator = tf1.load_discriminator(path, config)
    np.testing.assert_array_equal(discriminator(INPUTS).numpy(), reference(INPUTS).numpy())
    for a, b in zip(discriminator.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_or_mismatched_checkpoints_are_named(tmp_path):
    config = _config()
    with pytest.raises(FileNotFoundError, match="No readable TF1 checkpoint"):
        tf1.load_discriminator(tmp_path / "nothing", config)
    path = _save(tmp_path / "model.ckpt-1000", _discriminator_tensors())
    wider = dataclasses.replace(config, intermediate_size=38)
    with pytest.raises(ValueError, match="intermediate.dense.weight has shape \\(37, 32\\), the model needs \\(32, 38\\)"):
        tf1.load_discriminator(path, wider)


def test_convert_a_tf1_checkpoint_needs_config_and_vocabulary(tmp_path):
    from electra_tf.convert.checkpoint import convert_checkpoint

    path = _save(tmp_path / "model.ckpt-1000", _discriminator_tensors())
    with pytest.raises(ValueError, match="give both"):
        convert_checkpoint("tf1", path, tmp_path / "ours", config=_config())
    kind = convert_checkpoint("tf1", path, tmp_path / "ours", config=_config(),
                              vocab=FIXTURES / "discriminator" / "vocab.txt")
    assert kind == "discriminator" and (tmp_path / "ours" / "model.weights.h5").is_file()


def test_an_encoder_only_checkpoint_becomes_a_backbone(tmp_path):
    reference, _ = hf.load_discriminator(FIXTURES / "discriminator")
    config = reference.config
    converted = tf1.load_model(_save(tmp_path / "model.ckpt-1", _discriminator_tensors(with_head=False)), config)
    assert converted.TASK_TYPE == "backbone"
    np.testing.assert_array_equal(converted(INPUTS).numpy(), reference.encoder(INPUTS).numpy())


@pytest.mark.parametrize("untied", [False, True])
def test_a_tf1_pretraining_checkpoint_restores_both_towers_and_the_sharing(tmp_path, untied):
    from electra_tf.models.pretrainer import ElectraPretrainer
    from tests.test_case import random_batch, tiny_config

    config = tiny_config(embedding_sharing="untied" if untied else "tied")
    original = ElectraPretrainer(config)
    generator_links = hf.generator_links(original.generator, prefix="generator.")
    if not untied:
        generator_links = [link for link in generator_links if not link.name.startswith("generator.embeddings.")]
    tensors = _tf1_tensors(hf.discriminator_links(original.discriminator) + generator_links)
    assert "generator/encoder/layer_0/attention/self/query/kernel" in tensors
    assert "generator_predictions/output_bias" in tensors and "electra/embeddings/word_embeddings" in tensors
    # The original's untied generator has embeddings of its own hidden size, so no projection.
    assert ("generator/embeddings/word_embeddings" in tensors) == untied
    assert ("generator/embeddings_project/kernel" in tensors) != untied
    tensors["global_step"] = np.array(7, np.int64)
    path = _save(tmp_path / "model.ckpt-7", tensors)
    restored = tf1.load_pretrainer(path, config)
    shared = restored.generator.encoder.embeddings is restored.discriminator.encoder.embeddings
    assert shared != untied
    batch = random_batch()
    np.testing.assert_array_equal(restored(batch, step=1).mlm_logits.numpy(), original(batch, step=1).mlm_logits.numpy())
    np.testing.assert_array_equal(restored(batch, step=1).rtd_logits.numpy(), original(batch, step=1).rtd_logits.numpy())
    with pytest.raises(ValueError, match=f"set embedding_sharing='{'untied' if untied else 'tied'}'"):
        tf1.load_pretrainer(path, dataclasses.replace(config, embedding_sharing="tied" if untied else "untied"))
    partial = _save(tmp_path / "partial.ckpt", {**_discriminator_tensors(),
                                                "generator/encoder/layer_0/output/dense/bias": np.zeros(16, np.float32)})
    with pytest.raises(ValueError, match="missing \\['generator/embeddings_project/bias'"):
        tf1.load_pretrainer(partial, tiny_config())


def test_a_fine_tuned_mnli_head_loads_with_our_label_order(tmp_path):
    head = _head_tensors("mnli", {"dense": (HIDDEN, 3)})
    tokenizer = WordPieceTokenizer(FIXTURES / "discriminator" / "vocab.txt")
    classifier = tf1.load_model(_save(tmp_path / "model.ckpt-1", {**_discriminator_tensors(False), **head}), _config(),
                                tokenizer=tokenizer)
    assert classifier.label_names == ["entailment", "neutral", "contradiction"]
    assert classifier.preprocessor.text_pair
    cls_state = classifier.encoder(INPUTS).numpy()[:, 0]
    original = _dense(cls_state, head, "task_specific/mnli/dense")  # contradiction, entailment, neutral
    np.testing.assert_allclose(classifier(INPUTS).numpy(), original[:, [1, 2, 0]], atol=1e-5)


def test_a_fine_tuned_sts_head_predicts_the_score_itself(tmp_path):
    head = _head_tensors("sts", {"dense": (HIDDEN, 1)})
    classifier = tf1.load_model(_save(tmp_path / "model.ckpt-1", {**_discriminator_tensors(False), **head}),
                                _config())
    original = _dense(classifier.encoder(INPUTS).numpy()[:, 0], head, "task_specific/sts/dense")  # trained on score/5
    np.testing.assert_allclose(classifier(INPUTS).numpy(), 5.0 * original, atol=1e-5)


def test_a_fine_tuned_tagging_head_loads_as_a_token_classifier(tmp_path):
    head = _head_tensors("chunk", {"dense": (HIDDEN, 7)})
    tagger = tf1.load_model(_save(tmp_path / "model.ckpt-1", {**_discriminator_tensors(False), **head}),
                            _config())
    assert tagger.TASK_TYPE == "token_classification"
    expected = _dense(tagger.encoder(INPUTS).numpy(), head, "task_specific/chunk/dense")
    np.testing.assert_allclose(tagger(INPUTS).numpy(), expected, atol=1e-5)


def _original_squad_head(hidden, head, padding_mask, segment_ids, beam, start_positions):
    """The original's joint SQuAD head (qa_tasks.py get_prediction_module), in NumPy."""
    scope = "task_specific/squad"
    length = hidden.shape[1]
    answer_mask = padding_mask * segment_ids + np.eye(length)[0]
    start_logits = _dense(hidden, head, f"{scope}/dense")[..., 0] + 1000.0 * (answer_mask - 1)

    def end_logits(start_features, end_features):  # [..., L, H] each
        final = _dense(np.concatenate([start_features, end_features], -1), head, f"{scope}/qa_hidden", gelu=True)
        return _dense(final, head, f"{scope}/dense_1")[..., 0]

    rows = np.arange(len(hidden))
    start_features = np.repeat(hidden[rows, start_positions][:, None], length, axis=1)
    trained_end_logits = end_logits(start_features, hidden) + 1000.0 * (answer_mask - 1)
    start_top_index = np.argsort(-log_softmax(start_logits, -1), -1)[:, :beam]
    beam_start = np.repeat(hidden[rows[:, None], start_top_index][:, :, None], length, axis=2)  # [B, K, L, H]
    beam_end = np.repeat(hidden[:, None], beam, axis=1)
    beam_end_log_probs = log_softmax(end_logits(beam_start, beam_end) + 1000.0 * (answer_mask[:, None] - 1), -1)
    start_feature = (softmax(start_logits, -1)[..., None] * hidden).sum(1)
    answerable = _dense(np.concatenate([hidden[:, 0], start_feature], -1), head, f"{scope}/dense_2", gelu=True)
    return {"start_logits": start_logits, "end_logits": trained_end_logits, "start_top_index": start_top_index,
            "end_top_log_probs": -np.sort(-beam_end_log_probs, -1)[..., :beam],
            "answerable_logits": _dense(answerable, head, f"{scope}/dense_3")[:, 0]}


def test_a_fine_tuned_squad_head_matches_the_original_computation(tmp_path):
    width = 8  # the original's 512
    head = _head_tensors("squad", {"dense": (HIDDEN, 1), "qa_hidden": (2 * HIDDEN, width), "dense_1": (width, 1),
                                   "dense_2": (2 * HIDDEN, width), "dense_3": (width, 1)})
    reader = tf1.load_model(_save(tmp_path / "model.ckpt-1", {**_discriminator_tensors(False), **head}),
                            _config())
    assert reader.TASK_TYPE == "question_answering" and reader.head_hidden_size == width
    reader.beam_size = 3
    starts = np.array([6, 8, 0], np.int32)
    expected = _original_squad_head(reader.encoder(INPUTS).numpy(), head, INPUTS["padding_mask"],
                                    INPUTS["segment_ids"], 3, starts)
    trained = reader({**INPUTS, "start_positions": starts})
    predicted = reader(INPUTS)
    for name in ("start_logits", "answerable_logits"):
        np.testing.assert_allclose(predicted[name].numpy(), expected[name], atol=1e-4)
    np.testing.assert_allclose(trained["end_logits"].numpy(), expected["end_logits"], atol=1e-4)
    np.testing.assert_array_equal(predicted["start_top_index"].numpy(), expected["start_top_index"])
    np.testing.assert_allclose(predicted["end_top_log_probs"].numpy(), expected["end_top_log_probs"], atol=1e-4)


def test_a_multi_task_checkpoint_needs_the_task_named(tmp_path):
    from electra_tf.convert.checkpoint import convert_checkpoint
    from electra_tf.models.classifier import ElectraClassifier

    tensors = {**_discriminator_tensors(False), **_head_tensors("rte", {"dense": (HIDDEN, 2)}),
               **_head_tensors("chunk", {"dense": (HIDDEN, 5)}, seed=1)}
    path = _save(tmp_path / "model.ckpt-1", tensors)
    with pytest.raises(ValueError, match="several tasks \\['chunk', 'rte'\\]"):
        tf1.load_model(path, _config())
    with pytest.raises(ValueError, match="no task_specific/sst/ head"):
        tf1.load_model(path, _config(), task="sst")
    vocab = FIXTURES / "discriminator" / "vocab.txt"
    assert convert_checkpoint("tf1", path, tmp_path / "rte", _config(), vocab, task="rte") == "classification"
    classifier = ElectraClassifier.from_pretrained(tmp_path / "rte")
    expected = tf1.load_model(path, _config(), task="rte")(INPUTS).numpy()
    np.testing.assert_allclose(classifier(INPUTS).numpy(), expected, atol=1e-6)
    assert convert_checkpoint("tf1", path, tmp_path / "chunk", _config(), vocab, task="chunk") == "token_classification"


def test_the_convert_command_loads_a_named_head_as_a_tagger(tmp_path):
    import subprocess
    import sys

    from electra_tf.models.token_classifier import ElectraTokenClassifier

    head = _head_tensors("ner", {"dense": (HIDDEN, 5)})
    path = _save(tmp_path / "model.ckpt-1", {**_discriminator_tensors(False), **head})
    done = subprocess.run(
        [sys.executable, "-m", "electra_tf.cli", "convert", "--from", "tf1", "--input", str(path), "--tagging", "--nolowercase",
         "--config", str(FIXTURES / "discriminator" / "config.json"),
         "--vocab", str(FIXTURES / "discriminator" / "vocab.txt"), "--output", str(tmp_path / "ner")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "token_classification model directory" in done.stdout
    assert json.loads((tmp_path / "ner" / "tokenizer_config.json").read_text())["do_lower_case"] is False
    tagger = ElectraTokenClassifier.from_pretrained(tmp_path / "ner")
    expected = _dense(tagger.encoder(INPUTS).numpy(), head, "task_specific/ner/dense")
    np.testing.assert_allclose(tagger(INPUTS).numpy(), expected, atol=1e-5)
