import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.token_classifier import IGNORED_LABEL, ElectraTokenClassifier
from tests.test_case import random_batch, run_config_round_trip, tiny_config


def _tagger(num_labels=3, **kwargs):
    config = tiny_config()
    return config, ElectraTokenClassifier(config, num_labels, **kwargs)


def _tagging_task(count=64, length=12, seed=0):
    """Tag each word by its id's residue mod 3; [CLS], [SEP] and padding are ignored."""
    batch = random_batch(count, length, seed=seed)
    labels = np.where(batch["padding_mask"] == 1, batch["token_ids"] % 3, IGNORED_LABEL)
    labels[np.isin(batch["token_ids"], (101, 102))] = IGNORED_LABEL
    return batch, labels


def test_the_head_is_one_dense_on_every_token():
    _, tagger = _tagger(dropout=0.0)
    batch = random_batch()
    hidden = tagger.encoder(batch).numpy()
    expected = hidden @ tagger.logits.kernel.numpy() + tagger.logits.bias.numpy()
    np.testing.assert_allclose(tagger(batch).numpy(), expected, atol=1e-5)
    run_config_round_trip(tagger, batch)


def test_ignored_tokens_do_not_count_in_the_loss():
    _, tagger = _tagger()
    tagger.compile()
    batch, labels = _tagging_task(8)
    logits = tagger(batch).numpy()
    kept = labels != IGNORED_LABEL
    expected = -np.mean(tf.nn.log_softmax(logits).numpy()[kept, labels[kept]])
    actual = tagger.loss(labels, logits)
    np.testing.assert_allclose(float(actual), expected, rtol=1e-5)


def test_fit_learns_a_tagging_task():
    _, tagger = _tagger(dropout=0.0)
    tagger.compile(optimizer=keras.optimizers.Adam(2e-3))
    batch, labels = _tagging_task()
    history = tagger.fit(batch, labels, batch_size=16, epochs=12, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    test_batch, test_labels = _tagging_task(seed=1)
    predictions = tagger.predict(test_batch, verbose=0).argmax(-1)
    kept = test_labels != IGNORED_LABEL
    assert np.mean(predictions[kept] == test_labels[kept]) > 0.8  # chance: 1/3


def test_save_and_load_and_start_from_a_pretrained_model(tmp_path):
    config, tagger = _tagger(4, label_names=["O", "B-X", "I-X", "B-Y"])
    batch = random_batch()
    tagger.save_pretrained(tmp_path / "ner")
    restored = ElectraTokenClassifier.from_pretrained(tmp_path / "ner")
    np.testing.assert_array_equal(restored(batch).numpy(), tagger(batch).numpy())
    assert restored.label_names == ["O", "B-X", "I-X", "B-Y"]
    with pytest.raises(ValueError, match="num_labels=4, not 5"):
        ElectraTokenClassifier.from_pretrained(tmp_path / "ner", num_labels=5)
    with pytest.raises(ValueError, match="3 label names for a head of 4 labels"):
        ElectraTokenClassifier(config, 4, label_names=["O", "B", "I"])
    ElectraPretrainer(config).save_pretrained(tmp_path / "pretrained")
    with pytest.raises(ValueError, match="give num_labels"):
        ElectraTokenClassifier.from_pretrained(tmp_path / "pretrained")
    fresh = ElectraTokenClassifier.from_pretrained(tmp_path / "pretrained", num_labels=9)
    assert fresh(batch).shape == (4, 16, 9)
