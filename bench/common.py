"""What the benchmarks share."""

import os
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

Call = Callable[[Any], tf.Tensor]  # a batch -> a tensor whose `.numpy()` waits for the answer


def device_name() -> str:
    """The GPUs TensorFlow sees, else the CPU model and its logical core count."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return f"{cpu} ({os.cpu_count()} logical CPUs)"


def matmul_peak_flops(dtype: str = "float32", size: int | None = None) -> float:
    """FLOP/s of the best of 5 square matmuls in `dtype` on TensorFlow's default device: the peak MFU is measured
    against, in the same run. `size` defaults to 2048 on a CPU and 8192 on a GPU (large enough to saturate it).
    On NVIDIA GPUs TensorFlow runs float32 matmuls in TF32 by default, so the float32 peak is TF32's."""
    size = size or (8192 if tf.config.list_logical_devices("GPU") else 2048)
    a = tf.random.normal([size, size], dtype=dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()  # traces, warms up
    best = min(time_call(matmul, a) for _ in range(5))
    return 2 * size ** 3 / best


def as_if_fine_tuned(model, seed: int = 0) -> None:
    """Moves every vector weight of a built model (biases, LayerNorm scales and offsets) off its initial 0 or 1,
    as fine-tuning does: an exported model holds its weights as graph constants, and TensorFlow's graph
    optimizer would fold away additions of zero and products by one that no fine-tuned model has."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if len(weight.shape) == 1:
            weight.assign(weight + rng.normal(0, 0.02, weight.shape).astype(weight.dtype))


def time_call(call: Call, batch: Any) -> float:
    """Seconds of one call, including reading its answer back."""
    start = time.perf_counter()
    call(batch).numpy()
    return time.perf_counter() - start


def time_in_turns(calls: dict[str, Call], batches: list, warmup: int) -> dict[str, list[float]]:
    """Seconds of each call on each batch after `warmup` untimed ones, the calls taking turns per batch (so that
    background load hits them alike)."""
    for _ in range(warmup):
        for call in calls.values():
            time_call(call, batches[0])
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for batch in batches:
        for name, call in calls.items():
            seconds[name].append(time_call(call, batch))
    return seconds


def latency(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and mean milliseconds of single calls."""
    ms = 1000 * np.asarray(seconds)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(float(ms.mean()), 2)}


def throughput(seconds: list[float], batch_size: int) -> dict[str, Any]:
    """Examples per second from the median batch time, that time, and the fastest and slowest batch."""
    median_s = statistics.median(seconds)
    return {"examples_per_s": round(batch_size / median_s, 1), "batch_ms": round(1000 * median_s, 1),
            "batch_ms_min_max": [round(1000 * min(seconds), 1), round(1000 * max(seconds), 1)]}
