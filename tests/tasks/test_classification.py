"""Batch prediction for text classification: sorted by length for speed, returned in the split's order."""

import keras
import numpy as np
import tensorflow as tf

from electra_tf.data.glue import GlueSplit
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.tasks.classification import TextClassificationTask
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer
from tests.test_case import tiny_config


def test_predictions_over_length_sorted_batches_come_back_in_the_splits_order():
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    keras.utils.set_random_seed(5)
    model = ElectraClassifier(tiny_config(vocab_size=tokenizer.vocab_size), num_labels=2, dropout=0.0,
                              preprocessor=ElectraPreprocessor(tokenizer, sequence_length=64, text_pair=True))
    lines = [line for line in SAMPLE_CORPUS_FILE.read_text().splitlines() if 0 < len(line.strip()) < 150][:22]
    split = GlueSplit((lines[:11], lines[11:]))  # lengths in no order
    fixed = ElectraPreprocessor(tokenizer, sequence_length=64, padding="max_length")
    expected = model(fixed((tf.constant(lines[:11]), tf.constant(lines[11:])))).numpy()
    np.testing.assert_allclose(TextClassificationTask().predict(model, split, batch_size=4), expected, atol=1e-5)
    assert np.abs(np.diff(expected[:, 0])).max() > 1e-4  # rows differ: a wrong order would show
