"""The label set of a model with one output per class: its size and, optionally, the name of each class."""

from __future__ import annotations

from typing import Sequence


def resolve_labels(num_labels: int | None, label_names: Sequence[str] | None,
                   minimum: int) -> tuple[int, list[str] | None]:
    """(num_labels, label_names) from either or both; refuses names that do not name each output once."""
    names = None if label_names is None else [str(name) for name in label_names]
    if num_labels is None:
        if names is None:
            raise ValueError("A new head needs its size: give num_labels (or label_names).")
        num_labels = len(names)
    if num_labels < minimum:
        raise ValueError(f"num_labels must be >= {minimum}, got {num_labels}.")
    if names is not None and len(names) != num_labels:
        raise ValueError(f"{len(names)} label names for a head of {num_labels} labels.")
    if names is not None and len(set(names)) != len(names):
        raise ValueError(f"The label names repeat: {names}.")
    return num_labels, names
