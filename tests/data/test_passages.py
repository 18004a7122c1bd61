import numpy as np
import pytest

from electra_tf.data.passages import PASSAGE_SOURCES, read_passage_sources


def test_the_passage_task_is_balanced_and_its_dev_split_is_disjoint_and_later_in_each_source():
    train, dev = read_passage_sources()
    assert np.bincount(train.labels).tolist() == [480] * 4 and np.bincount(dev.labels).tolist() == [120] * 4
    assert not set(train.texts[0]) & set(dev.texts[0])
    alice_train = [t for t, label in zip(train.texts[0], train.labels) if label == 0]
    assert alice_train[0].startswith("[Alice's Adventures in Wonderland")  # the book's first sentences
    inaugural_dev = [t for t, label in zip(dev.texts[0], dev.labels) if label == PASSAGE_SOURCES.index("inaugural")]
    assert inaugural_dev[-1].endswith("God bless the United States of America.")  # the last address's last words


def test_a_corpus_without_the_four_sources_is_refused(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one sentence .\nanother .\n\nsecond document .\n")
    with pytest.raises(ValueError, match="has 2 documents"):
        read_passage_sources(corpus)
