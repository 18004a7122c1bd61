"""How every tf.data pipeline of the package ends (`electra_tf.data.pipeline`)."""

import numpy as np
import tensorflow as tf

from electra_tf.data.glue import GlueSplit, glue_dataset
from electra_tf.data.pipeline import prefetched
from electra_tf.text import SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer


def test_prefetched_turns_the_autotuning_model_off_and_keeps_the_data():
    # With the model on, deleting an iterator sometimes waited out the tuner's sleep (up to a minute).
    dataset = prefetched(tf.data.Dataset.range(10).batch(4))
    assert dataset.options().autotune.enabled is False
    assert [batch.tolist() for batch in dataset.as_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_glue_batches_come_prefetched_without_the_autotuning_model():
    split = GlueSplit((["the cat sat", "a dog"],), np.array([0, 1]))
    preprocessor = ElectraPreprocessor(WordPieceTokenizer(SAMPLE_VOCAB_FILE), 8)
    dataset = glue_dataset(split, preprocessor, batch_size=2, shuffle=False)
    assert dataset.options().autotune.enabled is False
