"""`ElectraPreprocessor`: raw texts or text pairs -> the encoder's `token_ids`, `segment_ids`, `padding_mask`."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras_hub.layers import MultiSegmentPacker

from electra_tf.inputs import INPUT_KEYS
from electra_tf.text.tokenizer import WordPieceTokenizer


PADDINGS = ("longest", "max_length")
# "longest" pads to the batch's longest row rounded up to a multiple of this, so that a model sees at most
# sequence_length / 16 shapes (tf.function traces and XLA compiles a bounded number of programs).
LENGTH_MULTIPLE = 16


def trim_padding(inputs: dict[str, tf.Tensor], multiple: int = LENGTH_MULTIPLE) -> dict[str, tf.Tensor]:
    """Model inputs padded at the end, cut to the batch's longest row rounded up to a multiple of `multiple`
    (never longer than they are). The encoder masks padding, so the real positions' outputs do not change;
    the work on padding goes."""
    mask = inputs["padding_mask"]
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=-1))
    length = tf.minimum((longest + multiple - 1) // multiple * multiple, tf.shape(mask)[-1])
    return {name: value[..., :length] for name, value in inputs.items()}


class TokenizingLayer(keras.layers.Layer):
    """What the preprocessors share: a `WordPieceTokenizer`, a sequence length, the settings a model
    directory records (`settings`), and a Keras config that holds the tokenizer too."""

    def __init__(self, tokenizer: WordPieceTokenizer, sequence_length: int, **kwargs):
        super().__init__(**kwargs)
        # As keras-hub's preprocessing layers: let Python strings and labels through `__call__` unconverted.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.built = True

    def settings(self) -> dict:
        """What a model directory records of this layer (its tokenizer has files of its own)."""
        return {"sequence_length": self.sequence_length}

    def get_config(self):
        config = super().get_config()
        config.update(self.settings(), tokenizer=keras.layers.serialize(self.tokenizer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.layers.deserialize(config["tokenizer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPreprocessor(TokenizingLayer):
    """Turns raw text, or text pairs, into BERT/ELECTRA model inputs, in the TensorFlow graph.

    Each text is tokenized with the `WordPieceTokenizer` and laid out as BERT does
    (https://arxiv.org/abs/1810.04805): `[CLS] A [SEP]` for a single text and `[CLS] A [SEP] B [SEP]` for a
    pair, then padded with `[PAD]`: to the batch's longest row rounded up to a multiple of 16 (`padding=
    "longest"`, what a user's pipeline does: most of a fixed-length batch of real text is padding), or to
    `sequence_length` (`"max_length"`, fixed shapes). Segment ids are 0 on `[CLS] A [SEP]` and 1 on
    `B [SEP]`; `padding_mask` is 1 on real tokens. A single text that does not fit is cut at the end. A pair is
    cut "longest first", as BERT's `_truncate_seq_pair`: one token at a time from the end of the longer text,
    from B on a tie. That is keras-hub's `MultiSegmentPacker` with `truncate="round_robin"` (for two texts
    it keeps the same tokens), which does the packing here. An empty text gives no tokens, so `""` becomes
    `[CLS] [SEP]` and the pair `("", "")` becomes `[CLS] [SEP] [SEP]`.

    Traced, it is all TensorFlow ops, so the layer runs inside `tf.function` (string tensors in), in a
    SavedModel, and in `tf.data.Dataset.map` over `text`, `(text, label)` or `((text_a, text_b), label)`
    elements; eager calls pack in keras-hub's pure-Python path, with the same result. As keras-hub's
    preprocessors, it passes `y` and `sample_weight` through unchanged.

    Args:
        tokenizer: `WordPieceTokenizer`. Supplies the WordPiece ids and the `[CLS]`, `[SEP]`, `[PAD]` ids.
        sequence_length: int. Length of every output row, special tokens included; at least 2 (3 to pack
            pairs). Defaults to `128`.
        text_pair: bool. Whether the model it feeds reads text pairs: saved with the model, it tells export
            to serve `text` and `text_b`. The layer itself packs whatever it is given. Defaults to `False`.
        padding: str. `"longest"` (default: a batch comes out `[batch, L]`, L <= `sequence_length` a multiple
            of 16 or `sequence_length`; a single text, which `Dataset.map` batches afterwards, keeps
            `sequence_length`) or `"max_length"` (always `sequence_length`: static shapes, e.g. for TPUs).
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Example:
    ```python
    import pathlib, tempfile
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "a", "dog", "."]
    path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    path.write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    preprocessor = ElectraPreprocessor(WordPieceTokenizer(path), sequence_length=8, padding="max_length")
    # A 4-token and a 3-token text in 8 - 3 = 5 slots: A loses one token (the longer), then B one (a tie).
    x = preprocessor((["The cat sat."], ["A dog."]))
    assert x["token_ids"].numpy().tolist() == [[2, 5, 6, 7, 3, 8, 9, 3]]
    assert x["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 0, 1, 1, 1]]
    x, y = preprocessor(["the cat", ""], [1, 0])
    assert x["token_ids"].numpy().tolist() == [[2, 5, 6, 3, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0, 0]]
    assert x["padding_mask"].numpy().tolist()[1] == [1, 1, 0, 0, 0, 0, 0, 0]
    ```
    """

    def __init__(self, tokenizer: WordPieceTokenizer, sequence_length: int = 128, text_pair: bool = False,
                 padding: str = "longest", **kwargs):
        if sequence_length < 2:
            raise ValueError(f"sequence_length must be at least 2 ([CLS] and [SEP]), got {sequence_length}.")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}.")
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.text_pair = text_pair
        self.padding = padding
        self.packer = MultiSegmentPacker(
            sequence_length=sequence_length, start_value=tokenizer.cls_token_id,
            end_value=tokenizer.sep_token_id, pad_value=tokenizer.pad_token_id, truncate="round_robin",
            name="packer")

    def call(self, x, y=None, sample_weight=None):
        """Packs texts into model inputs.

        Args:
            x: one text or a pair. A text is a str, a sequence of str, or a rank-0/rank-1 `tf.string` tensor;
                a pair is a tuple (or a list of two batches) of two such texts with the same batch size.
            y: optional labels, returned unchanged.
            sample_weight: optional sample weights, returned unchanged.

        Returns:
            `x` as a dict of int32 `token_ids`, `segment_ids` and `padding_mask`, each [batch_size, length]
            (or [length] for a single str/scalar input), length as `padding` says; or
            `(x, y)` / `(x, y, sample_weight)` when those are given.
        """
        segments, unbatched = _string_segments(x)
        if len(segments) == 2 and self.sequence_length < 3:
            raise ValueError(f"A pair needs sequence_length >= 3 ([CLS], [SEP], [SEP]); it is "
                             f"{self.sequence_length}.")
        token_ids, segment_ids = self.packer(tuple(self.tokenizer.tokenize(text) for text in segments))
        # The tokenizer never emits [PAD] (it splits "[PAD]" at the brackets), so [PAD] marks padding only.
        padding_mask = tf.cast(tf.not_equal(token_ids, self.tokenizer.pad_token_id), tf.int32)
        x = dict(zip(INPUT_KEYS, (token_ids, segment_ids, padding_mask)))
        if self.padding == "longest" and not unbatched:  # single rows stay whole: they are batched afterwards
            x = trim_padding(x)
        if unbatched:
            x = {name: value[0] for name, value in x.items()}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def settings(self) -> dict:
        return {**super().settings(), "text_pair": self.text_pair, "padding": self.padding}


def _string_segments(x) -> tuple[list[tf.Tensor], bool]:
    """The one or two texts of `x` as rank-1 string tensors, and whether `x` was a single example (rank 0)."""
    # A tuple is always a pair; a list is a pair only if it holds batches rather than strings.
    is_pair = isinstance(x, tuple) or (
        isinstance(x, list) and len(x) == 2 and not any(isinstance(text, (str, bytes)) for text in x))
    segments = [tf.convert_to_tensor(text, dtype=tf.string) for text in (x if is_pair else [x])]
    if len(segments) not in (1, 2):
        raise ValueError(f"Expected one text or a pair of texts, got a tuple of {len(segments)}.")
    ranks = {text.shape.rank for text in segments}
    if len(ranks) != 1 or not ranks <= {0, 1}:
        raise ValueError("Expected strings or rank-1 batches of strings (both texts of a pair alike), got "
                         f"shapes {[text.shape for text in segments]}.")
    unbatched = ranks == {0}
    if unbatched:
        segments = [text[tf.newaxis] for text in segments]
    if len(segments) == 2:
        segments = _check_same_batch_size(*segments)
    return segments, unbatched


def _check_same_batch_size(first: tf.Tensor, second: tf.Tensor) -> list[tf.Tensor]:
    message = "The two texts of a pair must have the same batch size"
    first_size, second_size = first.shape[0], second.shape[0]
    if first_size is not None and second_size is not None:
        if first_size != second_size:
            raise ValueError(f"{message}, got {first_size} first texts and {second_size} second texts.")
        return [first, second]
    # Sizes only known when the graph runs (a `[None]` signature): check there, before packing.
    check = tf.debugging.assert_equal(tf.shape(first)[0], tf.shape(second)[0], message=message)
    with tf.control_dependencies([check]):
        return [tf.identity(first), tf.identity(second)]
