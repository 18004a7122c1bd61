"""`xla_fused`: small functions that run as one XLA program inside models TensorFlow otherwise runs op by op."""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator

import tensorflow as tf

_fusing = True  # read when a caller is traced (or runs eagerly); see `unfused`


def xla_fused(function: Callable) -> Callable:
    """Decorator: `function` runs as one XLA program (compiled once per input shape and dtype, shared by every
    caller in the process), or as its plain TensorFlow ops inside `unfused()`.

    On CPU, TensorFlow runs each op of a chain of elementwise ops or small batch matmuls on its own, a pass over
    memory each; XLA fuses the chain. The large matmuls stay outside, where oneDNN runs them faster than XLA.
    """
    # Traced for general shapes after the first few (XLA still compiles for each concrete one), so varying
    # batch shapes do not retrace it without bound.
    compiled = tf.function(function, jit_compile=True, reduce_retracing=True)

    @functools.wraps(function)
    def run(*args):
        return compiled(*args) if _fusing else function(*args)

    return run


def fusing() -> bool:
    """Whether `xla_fused` functions traced or run now are XLA programs (False inside `unfused()`)."""
    return _fusing


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Within it, `xla_fused` functions traced or run are plain TensorFlow ops.

    For SavedModels served by TF Serving, which on CPU runs nothing XLA-compiled unless started with
    `--xla_cpu_compilation_enabled`: a default export must not need it. And for inputs whose shape changes with
    every batch (packed tokens at inference), where compiling for each shape costs more than fusing saves.
    """
    global _fusing
    previous, _fusing = _fusing, False
    try:
        yield
    finally:
        _fusing = previous
