"""ElectraPreprocessor: exact ids on a hand-written vocabulary, BERT's longest-first truncation, and the graph uses
(tf.data, tf.function, config and SavedModel round trips)."""

from __future__ import annotations

import json
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.text import SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer
from tests.test_case import SHARED_DATA

MRPC_DEV = SHARED_DATA / "glue" / "MRPC" / "dev.tsv"

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
         "the", "cat", "sat", "on", "mat", "a", "dog", ".", "##s", "un", "##aff", "##able"]
PAD, UNK, CLS, SEP = 0, 1, 2, 3
THE, CAT, SAT, ON, MAT, A, DOG, DOT, S = 5, 6, 7, 8, 9, 10, 11, 12, 13
# Words of 1 to 3 WordPiece tokens, so that texts of a few words have varied token counts.
WORDS = ["the", "cat", "cats", "sat", "on", "mat", "mats", "a", "dog", "dogs", ".", "unaffable", "zebra"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> WordPieceTokenizer:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return WordPieceTokenizer(path)


def truncate_seq_pair(tokens_a: list[int], tokens_b: list[int], max_length: int) -> None:
    """Google BERT's `run_classifier._truncate_seq_pair`, verbatim in logic."""
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def reference(ids_a: list[int], ids_b: list[int] | None, sequence_length: int,
              cls: int = CLS, sep: int = SEP) -> dict[str, list[int]]:
    """BERT's `convert_single_example` layout, in pure Python ([PAD] is id 0)."""
    ids_a = list(ids_a)
    if ids_b is None:
        ids_a = ids_a[:sequence_length - 2]
        token_ids, segment_ids = [cls, *ids_a, sep], [0] * (len(ids_a) + 2)
    else:
        ids_b = list(ids_b)
        truncate_seq_pair(ids_a, ids_b, sequence_length - 3)
        token_ids = [cls, *ids_a, sep, *ids_b, sep]
        segment_ids = [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1)
    padding = sequence_length - len(token_ids)
    return {"token_ids": token_ids + [PAD] * padding, "segment_ids": segment_ids + [0] * padding,
            "padding_mask": [1] * len(token_ids) + [0] * padding}


def as_lists(x: dict[str, tf.Tensor]) -> dict[str, list]:
    assert all(value.dtype == tf.int32 for value in x.values())
    return {name: value.numpy().tolist() for name, value in x.items()}


def test_single_texts_exact_ids(tokenizer):
    x = as_lists(ElectraPreprocessor(tokenizer, sequence_length=8)(["The cats sat.", "a dog", ""]))
    assert x == {
        "token_ids": [[CLS, THE, CAT, S, SAT, DOT, SEP, PAD],
                      [CLS, A, DOG, SEP, PAD, PAD, PAD, PAD],
                      [CLS, SEP, PAD, PAD, PAD, PAD, PAD, PAD]],  # an empty text is [CLS] [SEP]
        "segment_ids": [[0] * 8] * 3,
        "padding_mask": [[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]],
    }


def test_single_text_is_cut_at_the_end(tokenizer):
    x = as_lists(ElectraPreprocessor(tokenizer, sequence_length=5)("the cat sat on the mat"))
    assert x == {"token_ids": [CLS, THE, CAT, SAT, SEP], "segment_ids": [0] * 5, "padding_mask": [1] * 5}


def test_pairs_exact_ids(tokenizer):
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=10)
    x = as_lists(preprocessor((["the cat sat", "", "dogs", ""], ["on a mat.", "a dog", "", ""])))
    assert x == {
        "token_ids": [[CLS, THE, CAT, SAT, SEP, ON, A, MAT, DOT, SEP],
                      [CLS, SEP, A, DOG, SEP, PAD, PAD, PAD, PAD, PAD],
                      [CLS, DOG, S, SEP, SEP, PAD, PAD, PAD, PAD, PAD],
                      [CLS, SEP, SEP, PAD, PAD, PAD, PAD, PAD, PAD, PAD]],
        "segment_ids": [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
                        [0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
                        [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]],
        "padding_mask": [[1] * 10, [1] * 5 + [0] * 5, [1] * 5 + [0] * 5, [1] * 3 + [0] * 7],
    }
    # A list of two batches is a pair too; a single (str, str) example gives unbatched rows.
    assert as_lists(preprocessor([["the cat sat"], ["on a mat."]])) == {
        name: value[:1] for name, value in x.items()}
    assert as_lists(preprocessor(("the cat sat", "on a mat."))) == {name: value[0] for name, value in x.items()}


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("sequence_length", [3, 4, 5, 6, 9, 12, 20])
def test_longest_first_truncation_matches_bert(tokenizer, sequence_length):
    rng = random.Random(sequence_length)
    first = [random_text(rng) for _ in range(64)]
    second = [random_text(rng) for _ in range(64)]
    expected_rows = [reference(tokenizer.tokenize(a).numpy().tolist(), tokenizer.tokenize(b).numpy().tolist(),
                               sequence_length) for a, b in zip(first, second)]
    expected = {name: [row[name] for row in expected_rows] for name in expected_rows[0]}
    lengths = {len(tokenizer.tokenize(a)) + len(tokenizer.tokenize(b)) for a, b in zip(first, second)}
    assert max(lengths) > sequence_length  # truncation is exercised

    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=sequence_length)
    spec = tf.TensorSpec([None], tf.string)
    in_graph = tf.function(lambda a, b: preprocessor((a, b)), input_signature=[spec, spec])
    # Eager calls and traced ones take different paths inside keras-hub's packer; both must be BERT's.
    assert as_lists(preprocessor((first, second))) == expected
    assert as_lists(in_graph(tf.constant(first), tf.constant(second))) == expected


def test_invalid_inputs(tokenizer):
    with pytest.raises(ValueError, match="at least 2"):
        ElectraPreprocessor(tokenizer, sequence_length=1)
    short = ElectraPreprocessor(tokenizer, sequence_length=2)
    assert short("the cat")["token_ids"].numpy().tolist() == [CLS, SEP]
    with pytest.raises(ValueError, match="sequence_length >= 3"):
        short(("the", "cat"))
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=8)
    with pytest.raises(ValueError, match="same batch size, got 1 first texts and 2 second texts"):
        preprocessor((["the"], ["a", "dog"]))
    with pytest.raises(ValueError, match="one text or a pair"):
        preprocessor(("the", "a", "dog"))
    with pytest.raises(ValueError, match="rank-1 batches"):
        preprocessor((["the"], "a"))
    spec = tf.TensorSpec([None], tf.string)
    in_graph = tf.function(lambda a, b: preprocessor((a, b)), input_signature=[spec, spec])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        in_graph(tf.constant(["the"]), tf.constant(["a", "dog"]))


def test_labels_and_sample_weights_pass_through(tokenizer):
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=6)
    x, y = preprocessor(["a dog"], [1])
    assert x["token_ids"].numpy().tolist() == [[CLS, A, DOG, SEP, PAD, PAD]] and y == [1]
    x, y, sample_weight = preprocessor(["a dog"], np.array([1]), np.array([0.5]))
    assert y.tolist() == [1] and sample_weight.tolist() == [0.5]


def test_dataset_map(tokenizer):
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=8)
    texts, labels = ["the cat sat", "dogs", ""], [1, 0, 1]
    expected = as_lists(preprocessor(texts))
    # Unbatched elements (scalar strings) give [sequence_length] rows, which batch afterwards.
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).map(preprocessor).batch(3)
    assert dataset.element_spec[0]["token_ids"].shape.as_list() == [None, 8]
    x, y = next(iter(dataset))
    assert as_lists(x) == expected and y.numpy().tolist() == labels
    pairs = (texts, ["on a mat", "a dog.", "cats"])
    dataset = tf.data.Dataset.from_tensor_slices((pairs, labels)).batch(2).map(preprocessor)
    x, y = next(iter(dataset))
    assert as_lists(x) == {name: value[:2] for name, value in as_lists(preprocessor(pairs)).items()}


def test_tf_function_with_string_signature(tokenizer):
    preprocessor = ElectraPreprocessor(tokenizer, sequence_length=8)
    in_graph = tf.function(preprocessor, input_signature=[tf.TensorSpec([None], tf.string)])
    texts = ["The cat sat on the mat.", "unaffable dogs", ""]
    assert as_lists(in_graph(tf.constant(texts))) == as_lists(preprocessor(texts))


def test_config_round_trip(tmp_path):
    # A cased tokenizer: "The" is [UNK] only if `lowercase=False` survives the round trip.
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    preprocessor = ElectraPreprocessor(WordPieceTokenizer(path, lowercase=False), sequence_length=7, name="pre")
    config = json.loads(json.dumps(preprocessor.get_config()))
    clone = ElectraPreprocessor.from_config(config)
    assert clone.get_config() == preprocessor.get_config()
    assert isinstance(keras.layers.deserialize(keras.layers.serialize(preprocessor)), ElectraPreprocessor)
    pairs = (["The cat", "a dog sat on the mat"], ["sat.", "Dogs"])
    assert as_lists(clone(pairs)) == as_lists(preprocessor(pairs))
    assert as_lists(clone(pairs))["token_ids"][0][:2] == [CLS, UNK]


def test_saved_model_round_trip(tokenizer, tmp_path):
    module = tf.Module()
    module.preprocessor = ElectraPreprocessor(tokenizer, sequence_length=8)
    spec = tf.TensorSpec([None], tf.string)
    module.single = tf.function(lambda texts: module.preprocessor(texts), input_signature=[spec])
    module.pair = tf.function(lambda a, b: module.preprocessor((a, b)), input_signature=[spec, spec])
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    first, second = ["The cats sat on the mat.", "", "a dog"], ["unaffable", "a dog", "zebra cats"]
    assert as_lists(loaded.single(tf.constant(first))) == as_lists(module.preprocessor(first))
    assert as_lists(loaded.pair(tf.constant(first), tf.constant(second))) == as_lists(
        module.preprocessor((first, second)))


@pytest.mark.skipif(not MRPC_DEV.is_file(), reason="GLUE MRPC dev.tsv not present")
@pytest.mark.parametrize("sequence_length", [128, 24])
def test_bundled_vocabulary_on_mrpc_pairs(sequence_length):
    # Tab-separated, a BOM, and bare '"' inside the strings (see the data set's README).
    rows = [line.split("\t") for line in MRPC_DEV.read_text(encoding="utf-8-sig").splitlines()[1:4]]
    first, second = [row[3] for row in rows], [row[4] for row in rows]
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (PAD, 101, 102)
    x = as_lists(ElectraPreprocessor(tokenizer, sequence_length=sequence_length,
                                     padding="max_length")((first, second)))
    for row, (a, b) in enumerate(zip(first, second)):
        ids_a, ids_b = tokenizer.tokenize(a).numpy().tolist(), tokenizer.tokenize(b).numpy().tolist()
        assert len(ids_a) > 10 and len(ids_b) > 10
        expected = reference(ids_a, ids_b, sequence_length, cls=101, sep=102)
        assert {name: value[row] for name, value in x.items()} == expected
