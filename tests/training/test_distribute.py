"""Strategies by name: which process is the chief, and a clear error when a TPU is asked for and none is found."""

import types

import pytest
import tensorflow as tf

from electra_tf.training.distribute import get_strategy, is_chief, local_cluster


def _on(task_type, task_id, cluster):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
    return types.SimpleNamespace(cluster_resolver=resolver)


def test_the_chief_is_the_chief_task_else_worker_zero():
    workers = {"worker": ["a:1", "b:1"]}
    assert is_chief(_on("worker", 0, workers)) and not is_chief(_on("worker", 1, workers))
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert is_chief(_on("chief", 0, with_chief)) and not is_chief(_on("worker", 0, with_chief))
    assert is_chief(tf.distribute.get_strategy())  # one process: it writes


def test_asking_for_a_tpu_where_there_is_none_says_so():
    with pytest.raises(ValueError, match="no TPU found.*Cloud TPU VM"):
        get_strategy("tpu")


def test_a_local_cluster_gives_each_worker_its_own_free_port_and_index():
    configs = local_cluster(3)
    workers = configs[0]["cluster"]["worker"]
    assert len(set(workers)) == 3 and all(worker.startswith("127.0.0.1:") for worker in workers)
    assert [config["task"] for config in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(config["cluster"] == configs[0]["cluster"] for config in configs)
