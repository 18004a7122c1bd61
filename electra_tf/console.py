"""What the command line and the recipes show a user: TensorFlow without its start-up noise.

TensorFlow's C++ start-up lines (oneDNN notices, CUDA probing on a machine without a GPU) are written while it
loads, some before `TF_CPP_MIN_LOG_LEVEL` applies; they are hidden by sending file descriptor 2 to /dev/null
for the import. Errors still raise in Python. `ELECTRA_TF_DEBUG=1` (or the CLI's --debug) shows everything.
"""

from __future__ import annotations

import contextlib
import os
import sys


def import_tensorflow_quietly(show: bool = False) -> None:
    """Imports tensorflow and tensorflow_text with their start-up lines hidden and TensorFlow's INFO logs off
    (unless `show` or debugging). Call it after absl parses flags (it may reset the verbosity)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    show = show or os.environ.get("ELECTRA_TF_DEBUG") == "1"
    with contextlib.nullcontext() if show else _native_stderr_silenced():
        import tensorflow as tf
        import tensorflow_text  # noqa: F401
    if not show:  # TensorFlow's Python INFO lines (SavedModel signatures, asset writing) too
        from absl import logging

        logging.set_verbosity(logging.WARNING)
        tf.get_logger().setLevel("WARNING")


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
