"""GLUE fine-tuning end to end: a model pre-trained by this package learns SST-2 and STS-B."""

import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.config import ElectraConfig
from electra_tf.data.glue import read_glue_tsv
from electra_tf.data.pretraining import CorpusSource
from electra_tf.evaluation.glue import glue_metrics
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE
from electra_tf.tasks.glue import GlueFinetuning
from electra_tf.training.finetune import FinetuningJob, run_finetuning
from electra_tf.training.pretrain import PretrainingJob, run_pretraining
from electra_tf.training.checkpoints import Preempted
from tests.test_case import SHARED_DATA, AtStep, save_random_pretrainer, write_synthetic_sst2

GLUE = SHARED_DATA / "glue"


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pretrained")
    run_pretraining(PretrainingJob(
        source=CorpusSource(text_files=str(SAMPLE_CORPUS_FILE)), output_dir=str(directory),
        config=ElectraConfig.from_preset("tiny"), vocab=str(SAMPLE_VOCAB_FILE), num_steps=300, batch_size=32,
        seq_len=64, learning_rate=2e-4, warmup_steps=30, checkpoint_every=300), verbose=0)
    return directory


@pytest.mark.slow
@pytest.mark.skipif(not (GLUE / "SST-2").is_dir(), reason="needs the shared GLUE data")
def test_sst2_beats_the_majority_class(pretrained, tmp_path):
    results = run_finetuning(GlueFinetuning("sst2", data_dir=GLUE), FinetuningJob(
        model_dir=str(pretrained), output_dir=str(tmp_path), num_steps=600, max_length=64))
    majority = 100 * 444 / 872  # SST-2 dev: 444 positive of 872
    assert results["median"]["dev"]["accuracy"] > majority + 8
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["median"] == results["median"] and saved["settings"]["learning_rate"] == 3e-4
    saved_model = ElectraClassifier.from_pretrained(tmp_path / "model")
    assert saved_model.num_labels == 2 and saved_model.label_names == ["0", "1"]
    assert saved_model.preprocessor.sequence_length == 64  # the fine-tuning length is saved with the model


@pytest.mark.slow
@pytest.mark.skipif(not (GLUE / "STS-B").is_dir(), reason="needs the shared GLUE data")
def test_stsb_regression_correlates(pretrained, tmp_path):
    # A larger LR than the paper's 3e-4: the test's few hundred steps must also move the head to the 0-5 scale.
    results = run_finetuning(GlueFinetuning("stsb", data_dir=GLUE), FinetuningJob(
        model_dir=str(pretrained), output_dir=str(tmp_path), num_steps=720, learning_rate=2e-3, max_length=64))
    # 1500 dev pairs: a chance Spearman has a standard error of about 2.6 points; 10 is about 4 of them.
    assert results["median"]["dev"]["spearman"] > 10
    assert results["settings"]["double_unordered"]
    assert ElectraClassifier.from_pretrained(tmp_path / "model").preprocessor.text_pair


@pytest.mark.slow
def test_several_seeds_report_the_median_and_write_leaderboard_predictions(pretrained, tmp_path):
    write_synthetic_sst2(tmp_path / "glue")
    results = run_finetuning(GlueFinetuning("sst2", data_dir=tmp_path / "glue"), FinetuningJob(
        model_dir=str(pretrained), output_dir=str(tmp_path / "out"), num_steps=20, batch_size=64, max_length=32,
        seeds=(1, 2, 3)))
    assert results["settings"]["epochs"] == 2  # the best of two epochs is kept
    accuracies = [run["dev"]["dev"]["accuracy"] for run in results["runs"]]
    assert [run["seed"] for run in results["runs"]] == [1, 2, 3]
    assert results["median"]["dev"]["accuracy"] == pytest.approx(float(np.median(accuracies)))
    best = max(results["runs"], key=lambda run: run["dev"]["dev"]["score"])
    assert results["saved_model"]["seed"] == best["seed"]
    # The reported dev metrics are those of the saved (best-epoch) weights.
    saved = ElectraClassifier.from_pretrained(tmp_path / "out" / "model")
    dev = read_glue_tsv("sst2", tmp_path / "glue", "dev")
    predictions = saved.predict(tf.constant(dev.texts[0]), verbose=0)
    assert glue_metrics("sst2", predictions, dev.labels) == pytest.approx(best["dev"]["dev"])
    predictions = (tmp_path / "out" / "predictions" / "SST-2.tsv").read_text().splitlines()
    assert predictions[0] == "index\tprediction" and len(predictions) == 101
    assert {line.split("\t")[1] for line in predictions[1:]} <= {"0", "1"}


def test_num_steps_trains_exactly_that_many_steps_and_a_preempted_run_resumes_to_the_same_results(tmp_path, capsys):
    write_synthetic_sst2(tmp_path / "glue")  # 600 examples: 10 batches of 64 an epoch
    task = GlueFinetuning("sst2", data_dir=tmp_path / "glue")
    pretrained = save_random_pretrainer(tmp_path / "pretrained", seed=0)  # the schedule needs no trained weights
    job = lambda name: FinetuningJob(model_dir=str(pretrained), output_dir=str(tmp_path / name), num_steps=13,
                                     batch_size=64, max_length=16)
    results = run_finetuning(task, job("whole"))
    assert results["runs"][0]["steps"] == 13 and results["settings"]["epochs"] == 2  # 10 + 3, both evaluated
    assert results["runs"][0]["best_epoch"] in (1, 2)

    # SIGTERM during step 12, after epoch 1's evaluation: saved at step 12, and the rerun trains step 13 only.
    with pytest.raises(Preempted, match="step 12"):
        run_finetuning(task, job("preempted"), callbacks=[AtStep(11, lambda: os.kill(os.getpid(), signal.SIGTERM))])
    assert not (tmp_path / "preempted" / "results.json").exists()
    counter = AtStep(0)
    resumed = run_finetuning(task, job("preempted"), callbacks=[counter])
    assert "Seed 0: resumed from step 12" in capsys.readouterr().out and counter.seen == 1
    assert resumed["runs"][0]["steps"] == 13 and resumed["runs"][0]["best_epoch"] == results["runs"][0]["best_epoch"]
    assert resumed["runs"][0]["dev"]["dev"] == pytest.approx(results["runs"][0]["dev"]["dev"], abs=1e-6)


def test_bad_jobs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown GLUE task 'sst3'"):
        GlueFinetuning("sst3", data_dir="d")
    with pytest.raises(ValueError, match="data_dir"):
        GlueFinetuning("sst2")
    with pytest.raises(ValueError, match="at least one seed"):
        FinetuningJob(model_dir="m", output_dir=str(tmp_path), seeds=())
