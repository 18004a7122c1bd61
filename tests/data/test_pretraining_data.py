import numpy as np
import pytest
import tensorflow_datasets as tfds

from electra_tf.data.pretraining import (
    CorpusSource,
    ExampleBuilder,
    WholeWords,
    build_examples,
    corpus_documents,
    pretraining_dataset,
    text_file_documents,
    write_tfrecords,
)
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, WordPieceTokenizer
from electra_tf.text.tokenizer import RESERVED_TOKENS

CLS, SEP = 101, 102


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(SAMPLE_VOCAB_FILE)


def _documents(seed, count=60):
    """Documents of sentences whose ids encode (document, sentence, position) so provenance is checkable."""
    rng = np.random.default_rng(seed)
    return [[[1000 * (doc + 1) + 10 * s + i for i in range(int(rng.integers(1, 9)))]
             for s in range(int(rng.integers(1, 12)))] for doc in range(count)]


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
    packed = [t for e in _build(documents, max_length=200) for t in e.token_ids if t not in (CLS, SEP)]
    assert packed == [token for doc in documents for sentence in doc for token in sentence]


def _write_corpus(directory, files=4, documents=6):
    paths = []
    for f in range(files):
        path = directory / f"part-{f}.txt"
        text = "\n\n".join("\n".join(f"file {f} document {d} sentence {s} says hello." for s in range(5))
                           for d in range(documents))
        path.write_text(text + "\n")
        paths.append(path)
    return paths


def _rows(dataset, batches):
    return [tuple(row) for batch in dataset.take(batches) for row in batch["token_ids"].numpy()]


def test_dataset_from_the_bundled_corpus_has_fixed_shapes_and_padding(tokenizer):
    source = CorpusSource(text_files=str(SAMPLE_CORPUS_FILE))
    batch = next(iter(pretraining_dataset(source, tokenizer, max_length=64, batch_size=8)))
    ids, mask = batch["token_ids"].numpy(), batch["padding_mask"].numpy()
    assert ids.shape == (8, 64) and batch["segment_ids"].shape == (8, 64)
    np.testing.assert_array_equal(mask, (ids != 0).astype(np.int32))
    assert (ids[:, 0] == tokenizer.cls_token_id).all()
    assert (ids == tokenizer.unk_token_id).mean() < 0.01


def test_same_seed_same_batches_and_skip_resumes_the_stream(tmp_path, tokenizer):
    _write_corpus(tmp_path)
    source = CorpusSource(text_files=str(tmp_path / "*.txt"))
    make = lambda seed, skip=0: pretraining_dataset(source, tokenizer, max_length=32, batch_size=4, seed=seed,
                                                   skip_batches=skip)
    assert _rows(make(1), 6) == _rows(make(1), 6)
    assert _rows(make(1), 6) != _rows(make(2), 6)
    assert _rows(make(1, skip=2), 4) == _rows(make(1), 6)[8:]


@pytest.mark.parametrize("files", [4, 1])
def test_two_workers_read_disjoint_data(tmp_path, tokenizer, files):
    _write_corpus(tmp_path, files=files, documents=8)
    source = CorpusSource(text_files=str(tmp_path / "*.txt"))
    seen = [_rows(pretraining_dataset(source, tokenizer, max_length=16, batch_size=2, num_workers=2,
                                      worker_index=i, repeat=False), 1000) for i in (0, 1)]
    # Batches of one: nothing dropped (with pairs, which example ends in a dropped last batch depends on the shuffle).
    everything = set(_rows(pretraining_dataset(source, tokenizer, max_length=16, batch_size=1, repeat=False), 10_000))
    read = seen[0] + seen[1]
    assert seen[0] and seen[1] and len(set(read)) == len(read)  # no example twice in an epoch, on any worker
    assert set(read) <= everything and len(read) >= 0.9 * len(everything)  # only last partial batches dropped


def test_tfrecord_shards_round_trip(tmp_path, tokenizer):
    _write_corpus(tmp_path)
    text = CorpusSource(text_files=str(tmp_path / "*.txt"))
    examples = list(build_examples(corpus_documents(text), tokenizer, 32))
    paths = write_tfrecords(examples, tmp_path / "shards", 32, num_shards=3)
    assert len(paths) == 3
    records = CorpusSource(tfrecords=str(tmp_path / "shards" / "*.tfrecord"))
    rows = _rows(pretraining_dataset(records, None, max_length=32, batch_size=1, repeat=False), 10_000)
    expected = {tuple(e.token_ids + [0] * (32 - len(e.token_ids))) for e in examples}
    assert len(rows) == len(examples) and set(rows) == expected
    with pytest.raises(ValueError, match="length 32, not seq_len=64"):
        pretraining_dataset(records, None, max_length=64, batch_size=1)


def test_tfds_text_dataset_with_mock_data(tokenizer):
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        source = CorpusSource(tfds_name="ag_news_subset", tfds_split="train", tfds_text_key="description")
        documents = list(corpus_documents(source))
        assert len(documents) == 12
        batch = next(iter(pretraining_dataset(source, tokenizer, max_length=16, batch_size=4, repeat=False)))
        assert batch["token_ids"].shape == (4, 16)


def test_bad_corpora_are_reported(tmp_path, tokenizer):
    with pytest.raises(FileNotFoundError, match="No files match"):
        pretraining_dataset(CorpusSource(text_files=str(tmp_path / "missing-*.txt")), tokenizer, max_length=32,
                            batch_size=2)
    (tmp_path / "empty.txt").write_text("\n\n  \n")
    with pytest.raises(ValueError, match="no text"):
        pretraining_dataset(CorpusSource(text_files=str(tmp_path / "empty.txt")), tokenizer, max_length=32,
                            batch_size=2)
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=r"random.bin is not a text corpus: \d\d% of its first 64 KiB"):
        pretraining_dataset(CorpusSource(text_files=str(tmp_path / "random.bin")), tokenizer, max_length=32,
                            batch_size=2)
    accented = tmp_path / "accented.txt"  # UTF-8 text with accents and CJK is text
    accented.write_text("café naïve déjà vu, 中文文本。\n" * 50, encoding="utf-8")
    next(iter(pretraining_dataset(CorpusSource(text_files=str(accented)), tokenizer, max_length=32, batch_size=2)))
    with pytest.raises(ValueError, match="Unknown TFDS dataset 'no_such_corpus'"):
        pretraining_dataset(CorpusSource(tfds_name="no_such_corpus"), tokenizer, max_length=32, batch_size=2)
    with pytest.raises(ValueError, match="exactly one corpus source"):
        CorpusSource(text_files="a.txt", tfds_name="c4")


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path, tokenizer):
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"the queen \xff\xfe said hello\n\nalice ran\n")
    documents = list(text_file_documents(broken))
    assert documents == [["the queen \ufffd\ufffd said hello"], ["alice ran"]]
    assert len(list(build_examples(documents, tokenizer, 32))) == 2


# --- Whole-word masking's word starts ---
def test_word_starts_mark_pieces_and_leave_the_examples_unchanged(tokenizer):
    documents = list(text_file_documents(SAMPLE_CORPUS_FILE))[:20]
    plain = list(build_examples(documents, tokenizer, 64, seed=3))
    with_words = list(build_examples(documents, tokenizer, 64, seed=3, whole_words=WholeWords()))
    assert [e.token_ids for e in with_words] == [e.token_ids for e in plain]  # same packing, same ids
    continuation = np.array([token.startswith("##") for token in tokenizer.vocabulary])
    pieces = 0
    for example in with_words:
        ids, starts = np.array(example.token_ids), np.array(example.word_starts)
        segment_first = np.r_[True, np.diff(example.segment_ids) != 0] | (np.r_[0, ids[:-1]] == CLS)
        expected = ~continuation[ids] | segment_first | np.isin(ids, (CLS, SEP))
        np.testing.assert_array_equal(starts, expected.astype(int))
        pieces += (starts == 0).sum()
    assert pieces > 50


@pytest.fixture(scope="module")
def chinese_tokenizer():
    return WordPieceTokenizer([*RESERVED_TOKENS, *"我喜欢北京天安门中文很好。,", "abc", "iphone", "##13"])


def test_segmented_chinese_groups_adjacent_ideographs(chinese_tokenizer):
    tokenizer = chinese_tokenizer
    lines = ["我 喜欢 北京 。", "我喜欢北京", "abc 中文abc 中文"]
    ids, starts = WholeWords(chinese="spaces").tokenize(tokenizer, lines)
    assert ids[0][:5] == ids[1]  # the spaces change no id
    assert starts[0] == [1, 1, 0, 1, 0, 1]
    assert starts[1] == [1, 0, 0, 0, 0]  # unsegmented: one run, one word
    assert WholeWords().tokenize(tokenizer, lines)[1][0] == [1] * 6  # "none": every ideograph a word
    assert starts[2][:2] == [1, 1] and starts[2][2] == 0  # ideographs after Latin letters start a word


def test_jieba_segmentation_only_separates_ideographs(chinese_tokenizer):
    tokenizer = chinese_tokenizer
    pytest.importorskip("jieba")
    from electra_tf.data.pretraining import segment_chinese

    segmented = segment_chinese("我喜欢北京天安门, iPhone13很好")
    assert segmented.replace(" ", "") == "我喜欢北京天安门, iPhone13很好".replace(" ", "")
    assert "iPhone13" in segmented and "我 喜欢" in segmented
    ids, starts = WholeWords(chinese="jieba").tokenize(tokenizer, ["我喜欢北京天安门"])
    assert ids == WholeWords().tokenize(tokenizer, ["我喜欢北京天安门"])[0]
    assert starts[0][:3] == [1, 1, 0]  # 我 | 喜欢


def test_word_starts_travel_through_tfrecords_and_batches(tmp_path, tokenizer):
    _write_corpus(tmp_path)
    text = CorpusSource(text_files=str(tmp_path / "*.txt"))
    examples = list(build_examples(corpus_documents(text), tokenizer, 32, whole_words=WholeWords()))
    write_tfrecords(examples, tmp_path / "shards", 32, num_shards=2)
    records = CorpusSource(tfrecords=str(tmp_path / "shards" / "*.tfrecord"))
    batch = next(iter(pretraining_dataset(records, None, max_length=32, batch_size=4, repeat=False,
                                          whole_words=WholeWords())))
    by_ids = {tuple(e.token_ids): e.word_starts for e in examples}
    for ids, starts, mask in zip(*(batch[key].numpy() for key in ("token_ids", "word_start", "padding_mask"))):
        length = mask.sum()
        assert list(starts[:length]) == by_ids[tuple(ids[:length])]
    from_text = next(iter(pretraining_dataset(text, tokenizer, max_length=32, batch_size=4, whole_words=WholeWords())))
    assert from_text["word_start"].shape == (4, 32)
    write_tfrecords(build_examples(corpus_documents(text), tokenizer, 32), tmp_path / "plain", 32, num_shards=1)
    with pytest.raises(ValueError, match="no word starts"):
        pretraining_dataset(CorpusSource(tfrecords=str(tmp_path / "plain" / "*.tfrecord")), None, max_length=32,
                            batch_size=4, whole_words=WholeWords())
