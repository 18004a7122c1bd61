import numpy as np
import pytest

from electra_tf.data.pretraining import ExampleBuilder, build_examples, pretraining_dataset, read_lines
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, WordPieceTokenizer

CLS, SEP = 101, 102


def _documents(seed, count=60):
    """Documents of sentences whose ids encode (document, sentence, position) so provenance is checkable."""
    rng = np.random.default_rng(seed)
    documents = []
    for doc in range(count):
        sentences = [[1000 * (doc + 1) + 10 * s + i for i in range(int(rng.integers(1, 9)))]
                     for s in range(int(rng.integers(1, 12)))]
        documents.append(sentences)
    return documents


def _build(documents, max_length, seed=0):
    builder = ExampleBuilder(max_length, CLS, SEP, seed=seed)
    examples = []
    for sentences in documents:
        for sentence in sentences:
            examples += builder.add_sentence(sentence)
        examples += builder.add_sentence([])
    return examples + builder.flush()


def test_examples_respect_length_layout_and_document_boundaries():
    examples = _build(_documents(0, 300), max_length=24)
    two_segments = 0
    for example in examples:
        ids, segments = example.token_ids, example.segment_ids
        assert len(ids) <= 24 and len(ids) == len(segments)
        assert ids[0] == CLS and ids[-1] == SEP
        seps = [i for i, token in enumerate(ids) if token == SEP]
        assert len(seps) in (1, 2)
        assert segments == [0] * (seps[0] + 1) + [1] * (len(ids) - seps[0] - 1)
        words = [token for token in ids if token not in (CLS, SEP)]
        assert len({token // 1000 for token in words}) == 1, "an example crosses a document boundary"
        two_segments += len(seps) == 2
    assert two_segments / len(examples) > 0.6


def test_every_token_lands_in_order_when_nothing_is_truncated():
    documents = _documents(1, 30)
    examples = _build(documents, max_length=200)
    packed = [token for example in examples for token in example.token_ids if token not in (CLS, SEP)]
    assert sorted(packed) == sorted(token for doc in documents for sentence in doc for token in sentence)


def test_dataset_from_the_bundled_corpus_has_fixed_shapes_and_padding(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    batch = next(iter(pretraining_dataset(str(SAMPLE_CORPUS_FILE), tokenizer, max_length=64, batch_size=8)))
    ids, mask = batch["token_ids"].numpy(), batch["padding_mask"].numpy()
    assert ids.shape == (8, 64) and batch["segment_ids"].shape == (8, 64)
    np.testing.assert_array_equal(mask, (ids != 0).astype(np.int32))
    assert (ids[:, 0] == tokenizer.cls_token_id).all()
    assert (tokenizer.unk_token_id == ids).mean() < 0.01


def test_bad_corpora_are_reported(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    with pytest.raises(FileNotFoundError, match="No corpus files"):
        list(read_lines(str(tmp_path / "missing-*.txt")))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(ValueError, match="no text"):
        build_examples(read_lines(str(empty)), tokenizer, 32)
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"the queen \xff\xfe said hello\n\nalice ran\n")
    examples = build_examples(read_lines(str(broken)), tokenizer, 32)
    assert len(examples) == 2
