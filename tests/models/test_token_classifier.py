import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.layers.crf import crf_log_likelihood
from electra_tf.models.token_classifier import CRF_LR_MULTIPLIER, IGNORED_LABEL, ElectraTokenClassifier
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, run_config_round_trip, run_model_contracts, tiny_config


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


BIO = ["O", "B-X", "I-X"]


def test_crf_loss_is_the_negative_log_likelihood_of_the_labelled_tokens():
    _, tagger = _tagger(label_names=BIO, crf=True, crf_constraints=False)
    tagger.crf.set_weights([np.random.default_rng(0).normal(size=w.shape).astype("float32")
                            for w in tagger.crf.get_weights()])
    batch, labels = _tagging_task(4)
    logits = tagger(batch).numpy()
    loss = float(tagger.compute_loss(y=labels, y_pred=logits))
    expected = []
    for row in range(4):  # each window's labelled tokens, in order, are the CRF's sequence
        kept = labels[row] != IGNORED_LABEL
        expected.append(-crf_log_likelihood(logits[row:row + 1, kept], labels[row:row + 1, kept],
                                            np.ones((1, kept.sum())), *tagger.crf.scores()).numpy()[0])
    assert loss == pytest.approx(np.mean(expected), rel=1e-5)


def test_crf_tagger_learns_and_decodes_with_viterbi():
    # The residue task has I-X after O, which BIO's constraints forbid: learn it unconstrained.
    _, tagger = _tagger(label_names=BIO, crf=True, crf_constraints=False, dropout=0.0)
    tagger.compile(optimizer=keras.optimizers.Adam(2e-3))
    batch, labels = _tagging_task()
    history = tagger.fit(batch, labels, batch_size=16, epochs=12, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    test_batch, test_labels = _tagging_task(seed=1)
    logits = tagger.predict(test_batch, verbose=0)
    kept = test_labels != IGNORED_LABEL
    word_logits = tf.ragged.boolean_mask(logits, kept)
    decoded = tagger.decode(word_logits.to_tensor(), tf.sequence_mask(word_logits.row_lengths())).numpy()
    words = tf.ragged.boolean_mask(test_labels, kept).to_tensor(-1).numpy()
    assert np.mean(decoded[words >= 0] == words[words >= 0]) > 0.7  # chance: 1/3


def test_crf_scores_learn_at_a_multiple_of_the_learning_rate():
    _, tagger = _tagger(label_names=BIO, crf=True)
    optimizer = create_optimizer(1e-3, 10, 0, layerwise_lr_decay=0.8, num_layers=2,
                                 lr_multipliers=tagger.lr_multipliers())
    optimizer.build(tagger.trainable_variables)
    assert optimizer.lr_multiplier(tagger.crf.transitions) == CRF_LR_MULTIPLIER
    assert optimizer.lr_multiplier(tagger.logits.kernel) == 1.0
    assert optimizer.from_config(optimizer.get_config()).lr_multipliers == {"crf": CRF_LR_MULTIPLIER}


def test_crf_tagger_passes_the_model_contracts(tmp_path):
    _, tagger = _tagger(label_names=BIO, crf=True)
    tagger.crf.set_weights([w + 1.0 for w in tagger.crf.get_weights()])
    run_model_contracts(tagger, random_batch(), tmp_path)
    restored = ElectraTokenClassifier.from_pretrained(tmp_path / "token_classification_directory")
    np.testing.assert_array_equal(restored.crf.transitions.numpy(), tagger.crf.transitions.numpy())
    assert restored.crf.allowed == tagger.crf.allowed and restored.crf.allowed[0][2] is False
