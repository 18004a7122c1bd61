"""The command line and the quick start run end to end in fresh processes."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from electra_tf.data.passages import PASSAGE_SOURCES
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(*args, cwd=REPO):
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_pretrain_command_writes_a_loadable_model_directory(tmp_path):
    output = tmp_path / "model"
    stdout = _run("-m", "electra_tf.cli", "pretrain", "--config", "tiny", "--train_files", str(SAMPLE_CORPUS_FILE),
                  "--vocab", str(SAMPLE_VOCAB_FILE), "--output_dir", str(output), "--num_steps", "6", "--batch_size",
                  "4", "--seq_len", "32", "--warmup_steps", "2", "--checkpoint_every", "3", "--mask_prob", "0.2",
                  "--embedding_sharing", "gdes")
    # stdout is not a terminal: one log line per checkpoint interval (2 of 3 steps), no progress bar.
    assert len([line for line in stdout.splitlines() if " - loss: " in line]) == 2 and "\r" not in stdout
    config = json.loads((output / "config.json").read_text())
    assert config["vocab_size"] == 8000 and config["mask_prob"] == 0.2 and config["hidden_size"] == 64
    assert config["embedding_sharing"] == "gdes"
    assert (output / "vocab.txt").read_text() == SAMPLE_VOCAB_FILE.read_text()
    assert any((output / "logs").rglob("*.tfevents.*"))
    pretrainer = ElectraPretrainer.from_pretrained(output)
    ids = np.array([[101, 2000, 2001, 102]], np.int32)
    batch = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    assert np.isfinite(pretrainer(batch).rtd_logits.numpy()).all()


@pytest.mark.slow
def test_build_data_then_pretrain_from_the_shards(tmp_path):
    _run("-m", "electra_tf.cli", "build-data", "--train_files", str(SAMPLE_CORPUS_FILE), "--vocab",
         str(SAMPLE_VOCAB_FILE), "--output_dir", str(tmp_path / "shards"), "--seq_len", "32", "--num_shards", "2")
    assert len(list((tmp_path / "shards").glob("*.tfrecord"))) == 2
    stdout = _run("-m", "electra_tf.cli", "pretrain", "--config", "tiny", "--train_records",
                  str(tmp_path / "shards" / "*.tfrecord"), "--vocab", str(SAMPLE_VOCAB_FILE), "--output_dir",
                  str(tmp_path / "model"), "--num_steps", "2", "--batch_size", "4", "--seq_len", "32",
                  "--checkpoint_every", "2", "--objective", "mlm")
    assert "Saved the pre-trained model" in stdout and (tmp_path / "model" / "model.weights.h5").is_file()
    assert json.loads((tmp_path / "model" / "task.json").read_text())["task_type"] == "masked_lm_pretraining"


def _cli(*args):
    # The environment of a new user: no TF_CPP_MIN_LOG_LEVEL, no debug switch.
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "ELECTRA_TF_DEBUG")}
    return subprocess.run([sys.executable, "-m", "electra_tf.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)


def test_pretrain_command_names_a_missing_flag():
    result = _cli("pretrain", "--config", "tiny")
    assert result.returncode == 1 and "--output_dir is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_command_help_lists_its_own_flags_with_defaults():
    pretrain = _cli("pretrain", "--help")
    assert pretrain.returncode == 0
    assert "--num_steps: Optimizer updates. (default: '1000000')" in pretrain.stdout
    assert "--warmup_steps: Linear warm-up steps; default 1% of --num_steps" in pretrain.stdout
    assert "--export_dir" not in pretrain.stdout and "--seeds" not in pretrain.stdout  # other commands' flags
    export = _cli("export", "--help")
    assert "--model_dir" in export.stdout and "--export_dir" in export.stdout and "--num_steps" not in export.stdout
    listing = _cli("--help")
    assert listing.returncode == 0 and all(name in listing.stdout for name in ("pretrain", "finetune glue", "convert"))


def test_a_user_error_prints_one_line_and_exits_1_without_traceback_or_tensorflow_noise(tmp_path):
    result = _cli("export", "--model_dir", str(tmp_path / "missing"), "--export_dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"electra-tf export: error: {tmp_path / 'missing'} is not a model directory: it " \
                                    "has no config.json."
    assert not (tmp_path / "out").exists()
    debug = _cli("export", "--model_dir", str(tmp_path / "missing"), "--export_dir", str(tmp_path / "out"), "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr  # --debug shows where it came from


@pytest.mark.slow
def test_quick_start_goes_from_text_to_served_answers_in_a_fresh_clone(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "recipes/quickstart.py", "--num_steps", "10", "--output_dir", "runs/qs"],
                            cwd=clone, capture_output=True, text=True, timeout=600, env=dict(env, PYTHONPATH=str(clone)))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("*") >= 3  # replaced tokens are marked
    for stage in ("[1/4] Pre-trained", "[2/4] Fine-tuned", "[3/4] Exported", "[4/4] Answers from the SavedModel"):
        assert stage in out, stage
    accuracy, majority = map(float, re.search(r"dev accuracy ([\d.]+)% \(majority class ([\d.]+)%\)", out).groups())
    assert majority == 25.0 and accuracy > majority
    answers = out.split("[4/4]")[1].splitlines()[1:]
    assert len(answers) == 4 and all(line.split()[0] in PASSAGE_SOURCES for line in answers)
    assert (clone / "runs" / "qs" / "saved_model" / "1" / "saved_model.pb").is_file()
    assert "cuda" not in result.stderr.lower() and "oneDNN" not in result.stderr  # no start-up noise


@pytest.mark.slow
def test_pretrain_recipe_applies_the_paper_settings_and_user_overrides(tmp_path):
    stdout = _run("recipes/pretrain.py", "--size", "small", "--train_files", str(SAMPLE_CORPUS_FILE), "--vocab",
                  str(SAMPLE_VOCAB_FILE), "--output_dir", str(tmp_path / "model"), "--config", "tiny",
                  "--num_steps", "2", "--batch_size", "2", "--seq_len", "32", "--checkpoint_every", "2")
    assert "Saved the pre-trained model" in stdout
    metadata = json.loads((tmp_path / "model" / "training_metadata.json").read_text())["job"]
    assert metadata["learning_rate"] == 5e-4 and metadata["num_steps"] == 2 and metadata["warmup_steps"] == 10000


@pytest.mark.slow
def test_ner_recipe_then_export_then_predict_prints_entities(tmp_path):
    from tests.test_case import save_random_pretrainer, write_gazetteer_ner

    write_gazetteer_ner(tmp_path / "data")
    save_random_pretrainer(tmp_path / "pretrained")
    stdout = _run("recipes/ner.py", "--model_dir", str(tmp_path / "pretrained"), "--data_dir", str(tmp_path / "data"),
                  "--output_dir", str(tmp_path / "ner"), "--num_steps", "150", "--batch_size", "16",
                  "--learning_rate", "2e-3", "--max_length", "24", "--crf")
    results = json.loads((tmp_path / "ner" / "results.json").read_text())
    assert results["settings"]["scheme"] == "bioes" and results["settings"]["crf"]  # the original's scheme
    assert results["median"]["dev"]["f1"] > 70 and "test" in results["median"] and '"f1"' in stdout
    _run("-m", "electra_tf.cli", "export", "--model_dir", str(tmp_path / "ner" / "model"), "--export_dir",
         str(tmp_path / "served"))
    text = "Anne and Captain Wentworth walked from Lyme to Bath."
    answer = json.loads(_run("-m", "electra_tf.cli", "predict", "--model", str(tmp_path / "served"), "--text", text,
                             "--json"))
    entities = {(entity["type"], entity["text"]) for entity in answer["entities"]}
    assert len({("PER", "Anne"), ("PER", "Wentworth"), ("LOC", "Lyme"), ("LOC", "Bath")} & entities) >= 3
    assert all(text[entity["start"]:entity["end"]] == entity["text"] for entity in answer["entities"])
    table = _run("-m", "electra_tf.cli", "predict", "--model", str(tmp_path / "served"), "--text", text)
    assert all(f"{entity_type}:{entity_text}" in table for entity_type, entity_text in entities)


@pytest.mark.slow
def test_squad_recipe_then_export_then_predict_prints_the_answer(tmp_path):
    from tests.test_case import save_random_pretrainer, write_fact_squad

    train, dev = write_fact_squad(tmp_path / "data", "2.0")
    save_random_pretrainer(tmp_path / "pretrained")
    stdout = _run("recipes/squad.py", "--version", "2.0", "--model_dir", str(tmp_path / "pretrained"), "--train_file",
                  str(train), "--predict_file", str(dev), "--output_dir", str(tmp_path / "squad"), "--num_steps", "60",
                  "--batch_size", "16", "--learning_rate", "2e-3", "--max_length", "128", "--max_question_length",
                  "16", "--doc_stride", "64")
    results = json.loads((tmp_path / "squad" / "results.json").read_text())
    assert results["settings"]["version"] == "2.0" and results["settings"]["doc_stride"] == 64
    assert results["median"]["dev"]["best_exact"] > 80 and '"best_f1"' in stdout
    _run("-m", "electra_tf.cli", "export", "--model_dir", str(tmp_path / "squad" / "model"), "--export_dir",
         str(tmp_path / "served"), "--version", "3")
    context = "Anne walked to the sea. Louisa was born in Lyme. Captain Wentworth came later."
    answers = [json.loads(line) for line in _run(
        "-m", "electra_tf.cli", "predict", "--model", str(tmp_path / "served"), "--question", "Where was Louisa born?",
        "--question", "Where was Anne born?", "--context", context, "--json").strip().splitlines()]
    assert answers[0]["answer"] == "Lyme" and context[answers[0]["start"]:answers[0]["end"]] == "Lyme"
    assert answers[0]["answerable"] and {"null_score", "score"} <= set(answers[1])
    table = _run("-m", "electra_tf.cli", "predict", "--model", str(tmp_path / "served"), "--question",
                 "Where was Louisa born?", "--context", context)
    assert table.startswith("Lyme\tWhere was Louisa born?")
    with pytest.raises(AssertionError, match="must be an integer for export"):
        _run("-m", "electra_tf.cli", "export", "--model_dir", str(tmp_path / "squad" / "model"), "--export_dir",
             str(tmp_path / "served"), "--version", "2.0")


def test_finetune_with_lora_flags_saves_a_merged_model_and_its_adapters(tmp_path):
    from tests.test_case import save_random_pretrainer, write_synthetic_sst2

    save_random_pretrainer(tmp_path / "pretrained")
    write_synthetic_sst2(tmp_path / "glue")
    common = ("finetune", "glue", "--task", "sst2", "--model_dir", str(tmp_path / "pretrained"), "--data_dir",
              str(tmp_path / "glue"), "--output_dir", str(tmp_path / "out"), "--num_steps", "3", "--batch_size", "32",
              "--max_length", "16")
    refused = _cli(*common, "--lora_alpha", "16")
    assert refused.returncode == 1 and "--lora_alpha and --lora_targets need --lora_rank" in refused.stderr
    result = _cli(*common, "--lora_rank", "2", "--lora_targets", "query,value,intermediate")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["settings"]["lora"] == {"rank": 2, "alpha": None, "targets": ["query", "value", "intermediate"]}
    assert results["parameters"]["trainable_share"] < 0.05
    assert (tmp_path / "out" / "model" / "lora_adapters.safetensors").is_file()


def test_zeroshot_prints_accuracy_next_to_the_majority_and_exports_a_prompt_classifier(tmp_path):
    from tests.test_case import save_random_pretrainer, serve_in_fresh_process, write_synthetic_sst2

    save_random_pretrainer(tmp_path / "pretrained")
    write_synthetic_sst2(tmp_path / "glue")
    result = _cli("zeroshot", "--model_dir", str(tmp_path / "pretrained"), "--data_dir", str(tmp_path / "glue"),
                  "--template", "{text} Royal: {word}.", "--labels", "no,yes", "--shots_per_class", "4",
                  "--num_epochs", "2", "--max_length", "32", "--output_dir", str(tmp_path / "out"),
                  "--export_dir", str(tmp_path / "saved"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["majority_accuracy"] == 95.0 and report["dev_examples"] == 200  # 10 of 200 mention royalty
    assert f"zero-shot dev accuracy {report['zero_shot_accuracy']:.1f}%" in result.stdout
    assert f"few-shot (4 per label) {report['few_shot_accuracy']:.1f}%; majority class 95.0%" in result.stdout
    texts = ["The queen spoke to the king.", "It rained all day.", ""]
    served = serve_in_fresh_process(pathlib.Path(report["saved_model"]), {"text": texts})
    from electra_tf.models.prompt_classifier import ElectraPromptClassifier

    model = ElectraPromptClassifier.from_pretrained(tmp_path / "out" / "model")
    scores = model(texts).numpy()
    np.testing.assert_allclose(served["scores"], scores, atol=1e-5)
    assert served["labels"] == [["no", "yes"][i] for i in scores.argmax(axis=1)]
