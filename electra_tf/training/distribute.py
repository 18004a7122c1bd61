"""`tf.distribute` strategies by name, for the command line.

TensorFlow is imported inside the functions: the command line lists `STRATEGIES` (and answers --help) before
TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from typing import TYPE_CHECKING, Iterator, TypeVar

if TYPE_CHECKING:
    import tensorflow as tf

PathLike = TypeVar("PathLike", str, os.PathLike)

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def get_strategy(name: str = "default", tpu_address: str | None = None) -> tf.distribute.Strategy:
    """The strategy called `name`: one of `STRATEGIES`.

    `multi_worker` reads the cluster from the `TF_CONFIG` environment variable; `tpu` connects to
    `tpu_address` (or the local TPU when None).
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or "")
        except (ValueError, OSError, tf.errors.NotFoundError) as error:  # OSError: no metadata server (not on GCE)
            raise ValueError(f"--strategy tpu: no TPU found{f' at {tpu_address!r}' if tpu_address else ''} "
                             f"({error}). On a Cloud TPU VM the local TPU is found without --tpu_address; "
                             "elsewhere give the TPU's name or grpc:// address.") from None
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}; choose one of {STRATEGIES}.")


def local_cluster(num_workers: int) -> list[dict]:
    """One `TF_CONFIG` per worker of a cluster on this machine (127.0.0.1, free ports): multi-worker training
    tried on one host, as the tests and `bench/multi_worker_scaling.py` run it (docs/distributed.md)."""
    sockets = [socket.socket() for _ in range(num_workers)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return [{"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}} for i in range(num_workers)]


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs: always, except on the non-chief workers of a multi-worker
    cluster (the chief is task `chief`, or worker 0 when the cluster has none)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


@contextlib.contextmanager
def written_by_chief(directory: PathLike, chief: bool) -> Iterator[PathLike]:
    """Where this worker writes what belongs in `directory`: `directory` itself on the chief; on other workers a
    scratch folder, removed on leaving. TensorFlow's multi-worker convention: every worker takes part in saving
    (saving may need them all), and only the chief's copy stays."""
    if chief:
        yield directory
        return
    scratch = tempfile.mkdtemp(prefix="electra_tf_worker_")
    try:
        yield type(directory)(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def split_global_batches(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset,
                         global_batch_size: int) -> tf.data.Dataset | tf.distribute.DistributedDataset:
    """`dataset` of global batches (the same on every host: same data, same seed) spread over the replicas so that
    each step trains on exactly the global batch one process would: replica r takes its `global_batch_size / R`
    rows of every batch. Under several replicas every global batch is full: a repeated dataset's partial last
    batch of an epoch is completed from the next epoch's first examples."""
    import tensorflow as tf

    from electra_tf.data.pipeline import prefetched

    if strategy.num_replicas_in_sync == 1:
        return dataset

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch_size)
        replicas_here = context.num_replicas_in_sync // context.num_input_pipelines
        first_row = context.input_pipeline_id * replicas_here * per_replica
        rows = slice(first_row, first_row + replicas_here * per_replica)
        # Padded: batches padded to their longest row differ in length (the padding is masked, its ids unread).
        full = dataset.unbatch().padded_batch(global_batch_size, drop_remainder=True)
        mine = full.map(lambda *batch: tf.nest.map_structure(lambda t: t[rows], batch if len(batch) > 1 else batch[0]))
        return prefetched(mine.unbatch().batch(per_replica))

    return strategy.distribute_datasets_from_function(pipeline)
