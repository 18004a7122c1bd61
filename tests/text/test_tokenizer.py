"""WordPieceTokenizer, learn_vocabulary and the bundled vocabulary, against hand-worked reference answers."""

from __future__ import annotations

import pathlib
import re
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.text import (
    RESERVED_TOKENS,
    SAMPLE_VOCAB_FILE,
    WordPieceTokenizer,
    learn_vocabulary,
    write_vocabulary,
)
from electra_tf.text import tokenizer as tokenizer_module
from tests.test_case import SHARED_DATA

PRETRAIN_EN = SHARED_DATA / "pretrain-en"

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "hello", "world", ",", "!", "cafe", "café", "Hello", "Café", "Cafe", "世", "界",
    "un", "##aff", "##able", "a", "##a", "the", "The",
]


def tokens(tokenizer: WordPieceTokenizer, text: str) -> list[str]:
    return [tokenizer.id_to_token(int(i)) for i in tokenizer.tokenize(text).numpy()]


def spans(tokenizer: WordPieceTokenizer, text: str) -> list[tuple[str, str]]:
    """(token, the exact input substring its offsets point at) for each token of `text`."""
    ids, starts, ends = tokenizer.tokenize_with_offsets(text)
    raw = text.encode("utf-8")
    return [(tokenizer.id_to_token(int(i)), raw[s:e].decode("utf-8"))
            for i, s, e in zip(ids.numpy(), starts.numpy(), ends.numpy())]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def uncased(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer(vocab_file)


@pytest.fixture(scope="module")
def cased(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer(vocab_file, lowercase=False)


def test_lowercases_and_strips_accents(uncased):
    assert uncased.strip_accents is True
    assert tokens(uncased, "HELLO Café") == ["hello", "cafe"]
    assert tokens(uncased, "Cafe\u0301") == ["cafe"]  # a decomposed accent too


def test_cased_keeps_case_and_accents(cased):
    assert cased.strip_accents is False
    assert tokens(cased, "Hello Café hello HELLO") == ["Hello", "Café", "hello", "[UNK]"]


def test_lowercase_and_strip_accents_set_apart(vocab_file):
    lowercase_only = WordPieceTokenizer(vocab_file, lowercase=True, strip_accents=False)
    # As BERT: no NFC, so a decomposed "E\u0301" lower-cases to "e\u0301", not the vocabulary's "é".
    assert tokens(lowercase_only, "CAFÉ Café cafe CAFE\u0301") == ["café", "café", "cafe", "[UNK]"]
    strip_only = WordPieceTokenizer(vocab_file, lowercase=False, strip_accents=True)
    assert tokens(strip_only, "Café café") == ["Cafe", "cafe"]


def test_splits_punctuation(uncased):
    assert tokens(uncased, "hello, world!") == ["hello", ",", "world", "!"]
    assert tokens(uncased, "hello,world!!") == ["hello", ",", "world", "!", "!"]


def test_splits_cjk_one_character_per_token(uncased):
    assert tokens(uncased, "hello世界world") == ["hello", "世", "界", "world"]


def test_wordpiece_continuation_pieces(uncased):
    assert tokens(uncased, "unaffable") == ["un", "##aff", "##able"]
    assert tokens(uncased, "aaa") == ["a", "##a", "##a"]


def test_unknown_and_overlong_words_become_unk(uncased):
    assert tokens(uncased, "hello xyz unaffablex") == ["hello", "[UNK]", "[UNK]"]
    assert tokens(uncased, "a" * 100) == ["a"] + ["##a"] * 99
    assert tokens(uncased, "a" * 101 + " hello") == ["[UNK]", "hello"]


@pytest.mark.parametrize("lowercase,strip_accents", [(True, None), (False, None), (True, False), (False, True)])
def test_offsets_point_at_the_original_text(vocab_file, lowercase, strip_accents):
    tokenizer = WordPieceTokenizer(vocab_file, lowercase=lowercase, strip_accents=strip_accents)
    text = "  Hello,\tCafé 世界! unaffable Cafe\u0301"
    substrings = [substring for _, substring in spans(tokenizer, text)]
    assert substrings == ["Hello", ",", "Café", "世", "界", "!", "un", "aff", "able", "Cafe\u0301"]


def test_offsets_when_normalisation_changes_the_length(uncased):
    # "ÉTÉ" is 5 bytes, "ete" 3; "ﬁ" (1 character, 3 bytes) folds to "fi" (2).
    assert spans(uncased, "ÉTÉ HELLO") == [("[UNK]", "ÉTÉ"), ("hello", "HELLO")]
    assert spans(uncased, "ÀAA") == [("a", "À"), ("##a", "A"), ("##a", "A")]


def test_shapes_and_dtypes(uncased):
    batch = uncased.tokenize(["hello world", "", "hello"])
    assert isinstance(batch, tf.RaggedTensor) and batch.dtype == tf.int32
    assert batch.to_list() == [[5, 6], [], [5]]
    single = uncased.tokenize("hello world")
    assert isinstance(single, tf.Tensor) and single.numpy().tolist() == [5, 6]
    assert uncased(tf.constant(["hello world"])).to_list() == [[5, 6]]
    ids, starts, ends = uncased.tokenize_with_offsets(tf.constant(["hello world", "world"]))
    assert starts.to_list() == [[0, 6], [0]] and ends.to_list() == [[5, 11], [5]]
    with pytest.raises(ValueError, match="rank-1"):
        uncased.tokenize([["hello"]])


def test_detokenize(uncased):
    assert uncased.detokenize(uncased.tokenize(["Hello, Café!", "unaffable"])).numpy().tolist() == [
        b"hello , cafe !", b"unaffable"]
    assert uncased.detokenize(np.array([[5, 6, 0, 0], [16, 17, 18, 0]])).numpy().tolist() == [
        b"hello world", b"unaffable"]
    assert uncased.detokenize([5, 6]).numpy() == b"hello world"


def test_lookups_and_special_ids(uncased):
    assert uncased.vocab_size == len(VOCAB)
    assert (uncased.pad_token_id, uncased.unk_token_id, uncased.cls_token_id, uncased.sep_token_id,
            uncased.mask_token_id) == (0, 1, 2, 3, 4)
    assert uncased.token_to_id("hello") == 5 and uncased.token_to_id("nope") == 1
    assert uncased.id_to_token(9) == "cafe"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        uncased.id_to_token(len(VOCAB))
    assert uncased.token_to_id(tf.constant(["world", "nope"])).numpy().tolist() == [6, 1]
    assert uncased.id_to_token(tf.ragged.constant([[5], [6, 9]])).to_list() == [[b"hello"], [b"world", b"cafe"]]


def test_runs_in_tf_data_and_tf_function(uncased):
    dataset = tf.data.Dataset.from_tensor_slices(["Hello, world!", "unaffable"]).map(uncased.tokenize)
    assert [ids.numpy().tolist() for ids in dataset] == [[5, 7, 6, 8], [16, 17, 18]]
    batched = tf.data.Dataset.from_tensor_slices(["Hello", "Café 世"]).batch(2).map(uncased)
    assert next(iter(batched)).to_list() == [[5], [9, 14]]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def first_token_end(strings):
        _, _, ends = uncased.tokenize_with_offsets(strings)
        return ends.to_tensor()[:, 0]

    assert first_token_end(tf.constant(["Café x", "hello"])).numpy().tolist() == [5, 5]


def test_saved_model_round_trip(vocab_file, tmp_path):
    module = tf.Module()
    module.tokenizer = WordPieceTokenizer(vocab_file)
    module.tokenize = tf.function(
        lambda strings: module.tokenizer.tokenize(strings).to_tensor(),
        input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    assert loaded.tokenize(tf.constant(["Hello, Café!", "world"])).numpy().tolist() == [[5, 7, 9, 8], [6, 0, 0, 0]]


def test_config_round_trip(vocab_file):
    tokenizer = WordPieceTokenizer(vocab_file, lowercase=True, strip_accents=False, name="wp")
    clone = WordPieceTokenizer.from_config(tokenizer.get_config())
    assert clone.get_config() == tokenizer.get_config()
    assert clone.vocabulary == VOCAB and clone.strip_accents is False
    assert clone.tokenize(["CAFÉ"]).to_list() == tokenizer.tokenize(["CAFÉ"]).to_list() == [[10]]


def test_bundled_vocabulary():
    tokens_in_file = SAMPLE_VOCAB_FILE.read_text(encoding="utf-8").split("\n")[:-1]
    assert 7600 <= len(tokens_in_file) <= 8000
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    assert tokenizer.vocab_size == len(tokens_in_file)
    assert tokenizer.vocabulary[:104] == list(RESERVED_TOKENS)
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.mask_token_id) == (0, 100, 101, 102, 103)
    ids = tokenizer.tokenize("Alice was beginning to get very tired.").numpy()
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.detokenize(ids).numpy() == b"alice was beginning to get very tired ."


@pytest.fixture(scope="module")
def pretrain_lines() -> list[str]:
    path = PRETRAIN_EN / "gutenberg" / "carroll-alice.txt"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()][:400]


def test_learn_vocabulary_puts_the_specials_at_the_bert_ids(pretrain_lines, tmp_path):
    vocabulary = learn_vocabulary(pretrain_lines, vocab_size=400)
    assert len(vocabulary) <= 400 and len(set(vocabulary)) == len(vocabulary)
    assert vocabulary[0] == "[PAD]" and vocabulary[1] == "[unused0]" and vocabulary[99] == "[unused98]"
    assert vocabulary[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert {"the", "alice", "##s"} <= set(vocabulary)
    assert all(token == token.lower() for token in vocabulary[104:])

    path = tmp_path / "learned" / "vocab.txt"
    write_vocabulary(vocabulary, path)
    tokenizer = WordPieceTokenizer(path)
    assert tokenizer.vocabulary == vocabulary
    # Every character of the text is in the vocabulary, so nothing in it is unknown.
    assert tokenizer.unk_token_id not in tokenizer.tokenize(pretrain_lines).flat_values.numpy()


def test_learn_vocabulary_from_a_dataset_cased(pretrain_lines):
    vocabulary = learn_vocabulary(tf.data.Dataset.from_tensor_slices(pretrain_lines), vocab_size=300,
                                  lowercase=False)
    assert vocabulary[:104] == list(RESERVED_TOKENS) and len(vocabulary) <= 300
    assert "Alice" in vocabulary


def test_learn_vocabulary_cuts_to_vocab_size_keeping_characters(pretrain_lines):
    # upper_thresh=2 stops the search at once, with a vocabulary larger than asked for.
    full = learn_vocabulary(pretrain_lines, vocab_size=100_000, lower_thresh=2, upper_thresh=2)
    cut = learn_vocabulary(pretrain_lines, vocab_size=len(full) - 50, lower_thresh=2, upper_thresh=2)
    assert len(cut) == len(full) - 50
    assert [token for token in full if len(token.removeprefix("##")) == 1] == [
        token for token in cut if len(token.removeprefix("##")) == 1]


def test_learn_vocabulary_rejects_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        learn_vocabulary([], vocab_size=1000)
    with pytest.raises(ValueError, match="reserved"):
        learn_vocabulary(["hello"], vocab_size=104)
    with pytest.raises(ValueError, match="must yield strings"):
        learn_vocabulary(tf.data.Dataset.from_tensor_slices({"text": ["hello"]}), vocab_size=1000)


def test_missing_vocab_file(tmp_path):
    with pytest.raises(ValueError, match="nope.txt' does not exist"):
        WordPieceTokenizer(tmp_path / "nope.txt")


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"])
def test_empty_vocab_file(tmp_path, content):
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        WordPieceTokenizer(path)


def test_vocab_without_special_tokens_names_the_missing_ones(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[SEP]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("lacks the special tokens ['[CLS]', '[MASK]']")):
        WordPieceTokenizer(path)


def test_duplicated_tokens(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB + ["hello", "##aff"]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("duplicated tokens: ['hello', '##aff']")):
        WordPieceTokenizer(path)
    with pytest.raises(ValueError, match="duplicated"):
        write_vocabulary(VOCAB + ["hello"], tmp_path / "out.txt")
    with pytest.raises(ValueError, match="duplicated"):
        WordPieceTokenizer(VOCAB + ["hello"])


def test_vocab_file_with_crlf_line_ends_loads(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(("\r\n".join(VOCAB) + "\r\n").encode("utf-8"))
    assert WordPieceTokenizer(path).vocabulary == VOCAB


@pytest.mark.parametrize("target", [tokenizer_module.WordPieceTokenizer, tokenizer_module.learn_vocabulary])
def test_docstring_examples_run(target):
    (example,) = re.findall(r"```python\n(.*?)```", target.__doc__, flags=re.S)
    exec(textwrap.dedent(example), vars(tokenizer_module).copy())
