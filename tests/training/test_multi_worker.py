"""Multi-worker pre-training through the command line: two worker processes on 127.0.0.1 (TF_CONFIG), as a
user on two hosts would launch them (marked slow: three training processes)."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE

REPO = pathlib.Path(__file__).resolve().parents[2]
PRETRAIN = ["-m", "electra_tf.cli", "pretrain", "--config", "tiny", "--train_files", str(SAMPLE_CORPUS_FILE),
            "--vocab", str(SAMPLE_VOCAB_FILE), "--num_steps", "6", "--batch_size", "8", "--seq_len", "32",
            "--warmup_steps", "2", "--checkpoint_every", "3"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _pretrain(output_dir: pathlib.Path, tf_config: dict | None = None, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen([sys.executable, *PRETRAIN, "--output_dir", str(output_dir), *flags], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    return output


def _final_loss(output: str) -> float:
    return [float(line.split(" - loss: ")[1].split()[0]) for line in output.splitlines() if " - loss: " in line][-1]


@pytest.mark.slow
def test_two_workers_end_with_identical_weights_and_the_single_process_loss(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = [_pretrain(tmp_path / f"worker{i}", {"cluster": cluster, "task": {"type": "worker", "index": i}},
                         "--strategy", "multi_worker") for i in range(2)]
    outputs = [_finish(worker) for worker in workers]
    single = _finish(_pretrain(tmp_path / "single"))
    weights = [ElectraPretrainer.from_pretrained(tmp_path / f"worker{i}").get_weights() for i in range(2)]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    # Both report the global loss; the single process sees the same global batch of 8 but masks with one
    # random stream instead of one per worker, so its loss agrees loosely.
    assert _final_loss(outputs[0]) == _final_loss(outputs[1])
    assert _final_loss(outputs[0]) == pytest.approx(_final_loss(single), rel=0.05)
