"""Helpers the per-module tests share (after keras-hub's `TestCase`)."""

from __future__ import annotations

import pathlib

import numpy as np
import keras

from electra_tf.config import ElectraConfig

TINY_VOCAB_SIZE = 130  # ids 0..103 follow the BERT layout; 104..129 are "words"


def _shared_data() -> pathlib.Path:
    # The real datasets: ../shared/data beside the checkout (a CI clone), else the workplace's copy.
    beside = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside if beside.is_dir() else pathlib.Path("/work/shared/data")


SHARED_DATA = _shared_data()  # tests that read it skip when a dataset is missing


def tiny_config(**overrides) -> ElectraConfig:
    """The `tiny` preset with a 130-token vocabulary and no dropout unless overridden."""
    values = dict(vocab_size=TINY_VOCAB_SIZE, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return ElectraConfig.from_preset("tiny", **values)


def random_batch(batch_size: int = 4, sequence_length: int = 16, *, seed: int = 0,
                 lengths: list[int] | None = None, vocab_size: int = TINY_VOCAB_SIZE) -> dict[str, np.ndarray]:
    """[CLS] w w ... [SEP] [PAD]... examples with random word ids >= 104 and the given real lengths."""
    rng = np.random.default_rng(seed)
    if lengths is None:
        lengths = list(rng.integers(sequence_length // 2, sequence_length + 1, size=batch_size))
    token_ids = np.zeros((batch_size, sequence_length), np.int32)
    segment_ids = np.zeros_like(token_ids)
    for row, length in enumerate(lengths):
        token_ids[row, :length] = rng.integers(104, vocab_size, size=length)
        token_ids[row, 0], token_ids[row, length - 1] = 101, 102
        segment_ids[row, length // 2:length] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": (token_ids > 0).astype(np.int32)}


def run_config_round_trip(layer: keras.layers.Layer, *call_args, **call_kwargs) -> None:
    """`from_config(get_config())` rebuilds the layer; with the same weights it computes the same output."""
    expected = layer(*call_args, **call_kwargs)
    clone = layer.__class__.from_config(layer.get_config())
    clone(*call_args, **call_kwargs)
    assert clone.get_config() == layer.get_config()
    clone.set_weights(layer.get_weights())
    actual = clone(*call_args, **call_kwargs)
    for a, b in zip(keras.tree.flatten(actual), keras.tree.flatten(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
