"""Chinese end to end on ChnSentiCorp (research-only data: read from ../shared/data, never copied here)."""

import importlib.util
import pathlib

import numpy as np
import pytest

from electra_tf.data.chnsenticorp import read_chnsenticorp
from tests.test_case import SHARED_DATA, serve_in_fresh_process

REVIEWS = SHARED_DATA / "chinese" / "ChnSentiCorp_htl_all" / "ChnSentiCorp_htl_all.csv"
needs_reviews = pytest.mark.skipif(not REVIEWS.is_file(), reason="ChnSentiCorp is not in ../shared/data")


def _recipe():
    spec = importlib.util.spec_from_file_location(
        "chinese_sentiment", pathlib.Path(__file__).resolve().parents[2] / "recipes" / "chinese_sentiment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_reviews
def test_split_keeps_every_review_once_and_the_label_balance():
    train, dev = read_chnsenticorp(REVIEWS)
    assert len(train) + len(dev) == 7765  # one empty review skipped
    for split in (train, dev):
        assert abs(split.labels.mean() - 5322 / 7765) < 0.002
    assert 0.3 < train.labels[:100].mean() < 0.9  # shuffled: a prefix mixes both labels


def test_malformed_rows_are_refused_with_their_line(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("label,review\n1,很好\n2,太差\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 3: .*label 0 or 1"):
        read_chnsenticorp(path)
    path.write_text("sentiment,text\n1,很好\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        read_chnsenticorp(path)


@pytest.mark.slow  # about 5 minutes on 2 cores
@needs_reviews
def test_recipe_pretrains_fine_tunes_and_serves_chinese(tmp_path):
    results = _recipe().run(str(REVIEWS), tmp_path, num_steps=100, vocab_size=4000, num_epochs=2,
                            max_train_examples=3000)
    majority = results["majority_accuracy"]
    assert 68 < majority < 69
    for arm in ("token_masking", "whole_word_masking"):
        assert results[arm]["dev_accuracy"] > majority + 7, results  # a clear margin over the majority class
    # The two arms pre-train differently (they once ran identically: the training step dropped the word starts).
    assert results["whole_word_masking"]["pretraining"] != results["token_masking"]["pretraining"]
    vocabulary = (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert "酒" in vocabulary and not any(len(token) > 1 and "\u4e00" <= token[0] <= "\u9fff" for token in vocabulary)
    served = serve_in_fresh_process(pathlib.Path(results["saved_model"]), {"text": [r["text"] for r in
                                                                                  results["served"]]})
    assert served["labels"] == [r["label"] for r in results["served"]]
    assert np.allclose(np.sum(served["probabilities"], axis=1), 1.0)
