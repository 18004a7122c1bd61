"""Multi-worker pre-training through the command line: two worker processes on 127.0.0.1 (TF_CONFIG) sharing an
output directory, as a user on two hosts with shared storage would launch them (marked slow: seven training
processes)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE
from electra_tf.training.checkpoints import PREEMPTED_EXIT_CODE, checkpoints
from electra_tf.training.distribute import local_cluster
from electra_tf.training.pretrain import weights_digest
from tests.test_case import write_synthetic_sst2

REPO = pathlib.Path(__file__).resolve().parents[2]
PRETRAIN = ["-m", "electra_tf.cli", "pretrain", "--config", "tiny", "--train_files", str(SAMPLE_CORPUS_FILE),
            "--vocab", str(SAMPLE_VOCAB_FILE), "--num_steps", "40", "--batch_size", "8", "--seq_len", "32",
            "--warmup_steps", "2", "--checkpoint_every", "4"]


def _cli(command: list[str], tf_config: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen([sys.executable, *command], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _pretrain(output_dir: pathlib.Path) -> subprocess.Popen:
    return _cli([*PRETRAIN, "--output_dir", str(output_dir)])


def _two_workers(output_dir: pathlib.Path, command: list[str] = PRETRAIN) -> list[subprocess.Popen]:
    """Both workers of a cluster, started as on two hosts sharing `output_dir` (shared storage)."""
    return [_cli([*command, "--output_dir", str(output_dir), "--strategy", "multi_worker"], tf_config)
            for tf_config in local_cluster(2)]


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    return output


def _final_loss(output: str) -> float:
    return [float(line.split(" - loss: ")[1].split()[0]) for line in output.splitlines() if " - loss: " in line][-1]


def _digest(output: str) -> str:
    return output.split("Final weights digest: ")[1].split()[0]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The shared output directory and both workers' logs of a 2-worker run that nothing interrupts."""
    output_dir = tmp_path_factory.mktemp("two_workers")
    return output_dir, [_finish(worker) for worker in _two_workers(output_dir)]


@pytest.mark.slow
def test_two_workers_end_with_identical_weights_and_the_single_process_loss(uninterrupted, tmp_path):
    output_dir, outputs = uninterrupted
    single = _finish(_pretrain(tmp_path / "single"))
    # Every worker ends with the same weights; the chief wrote them, and only the chief wrote.
    assert _digest(outputs[0]) == _digest(outputs[1])
    assert weights_digest(ElectraPretrainer.from_pretrained(output_dir)) == _digest(outputs[0])
    assert sorted(p.name for p in (output_dir / "checkpoints").iterdir()) == ["step-36", "step-40"]
    # Both report the global loss; the single process sees the same global batch of 8 but masks with one
    # random stream instead of one per worker, so its loss agrees loosely.
    assert _final_loss(outputs[0]) == _final_loss(outputs[1])
    assert _final_loss(outputs[0]) == pytest.approx(_final_loss(single), rel=0.05)


@pytest.mark.slow
def test_a_killed_worker_and_a_restart_resume_from_the_last_saved_step_to_the_same_weights(uninterrupted, tmp_path):
    chief, worker = _two_workers(tmp_path)
    deadline = time.monotonic() + 600
    while not any(int(p.rsplit("-", 1)[1]) >= 8 for p in checkpoints(tmp_path / "checkpoints")):
        assert chief.poll() is None and time.monotonic() < deadline, "the run ended before step 8"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)  # mid-run: a host lost
    worker.wait()
    try:
        chief.wait(timeout=10)  # its next collective fails, or it waits for the lost peer: stop it either way
    except subprocess.TimeoutExpired:
        chief.kill()
    chief.communicate()
    saved = max(int(p.rsplit("-", 1)[1]) for p in checkpoints(tmp_path / "checkpoints"))
    assert 8 <= saved < 40

    outputs = [_finish(process) for process in _two_workers(tmp_path)]
    assert f"Resumed from step {saved} " in outputs[0] and f"Resumed from step {saved} " in outputs[1]
    assert _digest(outputs[0]) == _digest(outputs[1]) == _digest(uninterrupted[1][0])


@pytest.mark.slow
def test_sigterm_to_one_worker_stops_both_at_the_same_step_with_a_checkpoint_and_a_restart_loses_nothing(
        uninterrupted, tmp_path):
    chief, worker = _two_workers(tmp_path)
    deadline = time.monotonic() + 600
    while not checkpoints(tmp_path / "checkpoints"):
        assert chief.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)  # the non-chief is preempted: the chief must save for both
    outputs = [process.communicate(timeout=600)[0] for process in (chief, worker)]
    assert chief.returncode == worker.returncode == PREEMPTED_EXIT_CODE, outputs[0][-3000:]
    steps = [int(output.split("checkpoint saved at step ")[1].split(";")[0]) for output in outputs]
    assert steps[0] == steps[1] and f"step-{steps[0]}" in checkpoints(tmp_path / "checkpoints")[-1]

    restarted = [_finish(process) for process in _two_workers(tmp_path)]
    assert f"Resumed from step {steps[0]} " in restarted[0]
    assert _digest(restarted[0]) == _digest(restarted[1]) == _digest(uninterrupted[1][0])


@pytest.mark.slow
def test_glue_finetuning_on_two_workers_gives_the_dev_metrics_of_one_process(uninterrupted, tmp_path):
    write_synthetic_sst2(tmp_path / "glue")
    finetune = ["-m", "electra_tf.cli", "finetune", "glue", "--task", "sst2", "--model_dir", str(uninterrupted[0]),
                "--data_dir", str(tmp_path / "glue"), "--num_steps", "9", "--batch_size", "64", "--max_length", "32",
                "--learning_rate", "1e-3"]
    for worker in _two_workers(tmp_path / "two", finetune):
        _finish(worker)
    _finish(_cli([*finetune, "--output_dir", str(tmp_path / "one")]))
    two, one = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("two", "one"))
    assert two["settings"]["replicas"] == 2 and one["settings"]["replicas"] == 1
    # The same global batches and updates; dropout masks are drawn per replica, so weights differ slightly.
    assert two["runs"][0]["dev"]["dev"] == pytest.approx(one["runs"][0]["dev"]["dev"], abs=1e-6)
    start = ElectraPretrainer.from_pretrained(uninterrupted[0]).discriminator.encoder.get_weights()
    tuned = [ElectraClassifier.from_pretrained(tmp_path / name / "model").encoder.get_weights() for name in ("two", "one")]
    for moved, reference in zip(*tuned):
        np.testing.assert_allclose(moved, reference, atol=5e-3)  # 9 updates of at most 1e-3 each
    assert not np.allclose(start[0], tuned[0][0], atol=1e-4)
