"""Hugging Face checkpoints load with matching outputs (fixtures made by tests/fixtures/make_hf_fixtures.py)."""

import json
import pathlib
import shutil

import numpy as np
import pytest

from electra_tf.convert import hf

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "hf"
REFERENCE = np.load(FIXTURES / "outputs.npz")
INPUTS = {"token_ids": REFERENCE["input_ids"], "segment_ids": REFERENCE["token_type_ids"],
          "padding_mask": REFERENCE["attention_mask"]}
REAL = REFERENCE["attention_mask"].astype(bool)
# Where an answer can start or end: the context (segment 1) and [CLS]; elsewhere the model adds -1000, as the original.
ANSWERABLE = REAL & (INPUTS["segment_ids"] == 1)
ANSWERABLE[:, 0] = True


def test_discriminator_hidden_states_and_logits_match_transformers():
    discriminator, tokenizer = hf.load_discriminator(FIXTURES / "discriminator")
    config = discriminator.config
    assert (config.hidden_size, config.intermediate_size, tokenizer.mask_token_id) == (32, 37, 4)
    hidden = discriminator.encoder(INPUTS).numpy()
    np.testing.assert_allclose(hidden[REAL], REFERENCE["discriminator_last_hidden_state"][REAL], atol=1e-5)
    logits = discriminator(INPUTS).numpy()
    np.testing.assert_allclose(logits[REAL], REFERENCE["discriminator_logits"][REAL], atol=1e-5)


def test_generator_logits_match_transformers():
    generator, _ = hf.load_generator(FIXTURES / "generator")
    assert generator.encoder.embeddings_projection is None  # embedding size == hidden size
    hidden = generator.encoder(INPUTS).numpy()
    np.testing.assert_allclose(hidden[REAL], REFERENCE["generator_last_hidden_state"][REAL], atol=1e-5)
    logits = generator(INPUTS).numpy()
    np.testing.assert_allclose(logits[REAL], REFERENCE["generator_logits"][REAL], atol=1e-5)


def test_classifier_with_the_huggingface_head_matches_transformers():
    classifier, _ = hf.load_classifier(FIXTURES / "classifier")
    assert classifier.head == "huggingface" and classifier.num_labels == 3
    assert classifier.label_names == ["LABEL_0", "LABEL_1", "LABEL_2"]  # from id2label
    np.testing.assert_allclose(classifier(INPUTS).numpy(), REFERENCE["classifier_logits"], atol=1e-5)


def test_bare_model_hidden_states_match_transformers():
    backbone, _ = hf.load_backbone(FIXTURES / "model")  # tensor names without the "electra." prefix
    np.testing.assert_allclose(backbone(INPUTS).numpy()[REAL], REFERENCE["model_last_hidden_state"][REAL], atol=1e-5)


def test_token_classifier_logits_match_transformers():
    tagger, _ = hf.load_token_classifier(FIXTURES / "token_classifier")
    assert tagger.num_labels == 5
    np.testing.assert_allclose(tagger(INPUTS).numpy()[REAL], REFERENCE["token_classifier_logits"][REAL], atol=1e-5)
    assert hf.label_names(FIXTURES / "token_classifier", 5) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_question_answerer_span_logits_match_transformers_where_an_answer_can_be():
    reader, _ = hf.load_question_answerer(FIXTURES / "question_answerer")
    outputs = reader(INPUTS)
    for name in ("start_logits", "end_logits"):
        logits = outputs[name].numpy()
        np.testing.assert_allclose(logits[ANSWERABLE], REFERENCE[f"question_answerer_{name}"][ANSWERABLE], atol=1e-5)
        assert np.all(logits[~ANSWERABLE] < -900)


@pytest.mark.parametrize("name, task_type", [
    ("generator", "generator"), ("model", "backbone"), ("token_classifier", "token_classification"),
    ("question_answerer", "question_answering"), ("classifier", "classification")])
def test_every_architecture_converts_to_a_model_directory_that_loads_whole(tmp_path, name, task_type):
    from electra_tf.convert.checkpoint import convert_checkpoint
    from electra_tf.models.registry import model_class

    assert convert_checkpoint("hf", FIXTURES / name, tmp_path / "ours") == task_type
    model = model_class(task_type).from_pretrained(tmp_path / "ours")
    reference = {"generator": "generator_logits", "model": "model_last_hidden_state",
                 "token_classifier": "token_classifier_logits", "classifier": "classifier_logits",
                 "question_answerer": "question_answerer_start_logits"}[name]
    outputs = model(INPUTS)
    outputs = (outputs["start_logits"] if isinstance(outputs, dict) else outputs).numpy()
    compared = {"classifier": REAL[:, 0], "question_answerer": ANSWERABLE}.get(name, REAL)
    np.testing.assert_allclose(outputs[compared], REFERENCE[reference][compared], atol=1e-5)
    if name == "token_classifier":
        assert model.label_names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_writing_back_a_discriminator_round_trips_exactly(tmp_path):
    discriminator, tokenizer = hf.load_discriminator(FIXTURES / "discriminator")
    hf.save_discriminator(discriminator, tokenizer, tmp_path / "out")
    original, written = hf.read_safetensors(FIXTURES / "discriminator"), hf.read_safetensors(tmp_path / "out")
    assert set(original) == set(written)
    for name in original:
        np.testing.assert_array_equal(original[name], written[name], err_msg=name)
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["model_type"] == "electra" and saved["architectures"] == ["ElectraForPreTraining"]
    reloaded, _ = hf.load_discriminator(tmp_path / "out")
    np.testing.assert_array_equal(reloaded(INPUTS).numpy(), discriminator(INPUTS).numpy())


def _copy(tmp_path, name="discriminator"):
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def test_a_pickle_checkpoint_is_refused_with_instructions(tmp_path):
    directory = _copy(tmp_path)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pickle.*safe_serialization=True"):
        hf.load_discriminator(directory)


def test_mismatched_and_corrupt_checkpoints_are_named(tmp_path):
    from safetensors.numpy import save_file

    directory = _copy(tmp_path)
    tensors = hf.read_safetensors(directory)
    tensors["electra.encoder.layer.1.intermediate.dense.weight"] = np.zeros((36, 32), np.float32)
    save_file(tensors, str(directory / "model.safetensors"))
    with pytest.raises(ValueError, match="intermediate.dense.weight has shape \\(36, 32\\)"):
        hf.load_discriminator(directory)
    del tensors["electra.encoder.layer.1.intermediate.dense.weight"]
    save_file(tensors, str(directory / "model.safetensors"))
    with pytest.raises(ValueError, match="missing \\['electra.encoder.layer.1.intermediate.dense.weight'\\]"):
        hf.load_discriminator(directory)
    (directory / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        hf.load_discriminator(directory)


def test_vocabulary_and_architecture_mismatches_are_refused(tmp_path):
    directory = _copy(tmp_path)
    lines = (directory / "vocab.txt").read_text().splitlines()
    (directory / "vocab.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match="the vocabulary has 63 tokens but the model.s vocab_size is 64"):
        hf.load_discriminator(directory)
    other = _copy(tmp_path, "classifier")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' model, not 'electra'"):
        hf.load_classifier(other)
    with pytest.raises(ValueError, match="no sequence-classification head"):
        hf.load_classifier(FIXTURES / "discriminator")


@pytest.mark.slow
def test_convert_command_writes_a_model_directory_that_fine_tuning_loads(tmp_path):
    import subprocess
    import sys

    from electra_tf.models.classifier import ElectraClassifier

    run = lambda *args: subprocess.run([sys.executable, "-m", "electra_tf.cli", "convert", *args],
                                       capture_output=True, text=True, timeout=300)
    done = run("--from", "hf", "--input", str(FIXTURES / "discriminator"), "--output", str(tmp_path / "ours"))
    assert done.returncode == 0, done.stderr[-2000:]
    discriminator, _ = hf.load_discriminator(FIXTURES / "discriminator")
    classifier = ElectraClassifier.from_pretrained(tmp_path / "ours", num_labels=2)
    real = REAL
    np.testing.assert_allclose(classifier.encoder(INPUTS).numpy()[real], discriminator.encoder(INPUTS).numpy()[real],
                               atol=1e-6)
    again = run("--from", "hf", "--input", str(FIXTURES / "discriminator"), "--output", str(tmp_path / "ours"))
    assert again.returncode != 0 and "not empty" in again.stderr
    other = _copy(tmp_path, "classifier")
    (other / "config.json").write_text(json.dumps(
        {**json.loads((other / "config.json").read_text()), "architectures": ["ElectraForMultipleChoice"]}))
    refused = run("--from", "hf", "--input", str(other), "--output", str(tmp_path / "mc"))
    assert refused.returncode != 0 and "ElectraForMultipleChoice" in refused.stderr
    assert not (tmp_path / "mc").exists()


def test_ours_to_huggingface_and_back_gives_the_same_pretrainer(tmp_path):
    from electra_tf.config import generator_config
    from electra_tf.models.pretrainer import ElectraPretrainer
    from electra_tf.text import SAMPLE_VOCAB_FILE, WordPieceTokenizer
    from tests.test_case import random_batch, tiny_config

    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    original = ElectraPretrainer(config)
    assert original.generator.config == generator_config(config)
    hf.save_discriminator(original.discriminator, tokenizer, tmp_path / "discriminator")
    hf.save_generator(original.generator, tokenizer, tmp_path / "generator")
    from electra_tf.convert.checkpoint import convert_checkpoint

    assert convert_checkpoint("hf", tmp_path / "discriminator", tmp_path / "ours",
                              generator=tmp_path / "generator") == "pretraining"
    restored = ElectraPretrainer.from_pretrained(tmp_path / "ours")
    assert restored.generator.encoder.embeddings is restored.discriminator.encoder.embeddings
    batch = random_batch(vocab_size=tokenizer.vocab_size)
    expected, actual = original(batch, step=3), restored(batch, step=3)
    np.testing.assert_array_equal(actual.mlm_logits.numpy(), expected.mlm_logits.numpy())
    np.testing.assert_array_equal(actual.rtd_logits.numpy(), expected.rtd_logits.numpy())


def test_a_generator_of_another_size_is_refused_when_combining():
    with pytest.raises(ValueError, match="generator's intermediate_size is 24, but ELECTRA derives 64"):
        hf.load_pretrainer(FIXTURES / "discriminator", FIXTURES / "generator")


CHINESE = FIXTURES.parent / "hf_chinese"  # made by tests/fixtures/make_hf_chinese_fixture.py


def test_a_chinese_electra_directory_tokenizes_and_scores_as_transformers(tmp_path):
    """An hfl/chinese-electra-style directory (BERT-Chinese vocabulary layout, [UNK] at 100, tokenizer_config.json):
    our in-graph preprocessing gives transformers' BertTokenizer ids on Chinese text, and the logits match."""
    from electra_tf.convert.checkpoint import convert_checkpoint
    from electra_tf.models.discriminator import ElectraDiscriminator
    from electra_tf.text.preprocessor import ElectraPreprocessor

    reference = np.load(CHINESE / "outputs.npz")
    texts = json.loads((CHINESE / "texts.json").read_text(encoding="utf-8"))["texts"]
    discriminator, tokenizer = hf.load_discriminator(CHINESE / "discriminator")
    assert (tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.mask_token_id) == (100, 101, 103)
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=reference["input_ids"].shape[1],
                                       padding="max_length")
    rows = [preprocessor(tuple([text] for text in row)) for row in texts]
    inputs = {name: np.concatenate([row[name].numpy() for row in rows]) for name in INPUTS}
    np.testing.assert_array_equal(inputs["token_ids"], reference["input_ids"])
    np.testing.assert_array_equal(inputs["segment_ids"], reference["token_type_ids"])
    real = reference["attention_mask"].astype(bool)
    np.testing.assert_allclose(discriminator(inputs).numpy()[real], reference["discriminator_logits"][real],
                               atol=1e-5)
    assert convert_checkpoint("hf", CHINESE / "discriminator", tmp_path / "ours") == "discriminator"
    converted = ElectraDiscriminator.from_pretrained(tmp_path / "ours")
    np.testing.assert_allclose(converted(inputs).numpy()[real], reference["discriminator_logits"][real], atol=1e-5)
