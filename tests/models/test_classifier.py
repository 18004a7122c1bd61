import numpy as np
import keras
import pytest
import tensorflow as tf

from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.text import SAMPLE_CORPUS_FILE, SAMPLE_VOCAB_FILE, ElectraPreprocessor, WordPieceTokenizer
from electra_tf.text.preprocessor import LENGTH_MULTIPLE
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, tiny_config


def _classifier(num_labels=3, **kwargs):
    config = tiny_config()
    return config, ElectraClassifier(config, num_labels, **kwargs)


def test_the_original_head_is_one_dense_on_the_cls_state():
    _, classifier = _classifier(dropout=0.0)
    batch = random_batch()
    cls_state = classifier.encoder(batch).numpy()[:, 0, :]
    expected = cls_state @ classifier.logits.kernel.numpy() + classifier.logits.bias.numpy()
    np.testing.assert_allclose(classifier(batch).numpy(), expected, atol=1e-5)
    assert len(classifier.trainable_variables) == len(classifier.encoder.trainable_variables) + 2


def test_huggingface_head_has_two_dense_layers():
    _, classifier = _classifier(head="huggingface")
    assert len(classifier.trainable_variables) == len(classifier.encoder.trainable_variables) + 4
    with pytest.raises(ValueError, match="Unknown head"):
        _classifier(head="pooler")


def test_from_a_pretrained_directory_takes_the_discriminator_encoder(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    pretrainer = ElectraPretrainer(tiny_config(vocab_size=tokenizer.vocab_size))
    pretrainer.save_pretrained(tmp_path / "pretrained", tokenizer)
    classifier = ElectraClassifier.from_pretrained(tmp_path / "pretrained", num_labels=2)
    batch = random_batch(vocab_size=tokenizer.vocab_size)
    np.testing.assert_array_equal(classifier.encoder(batch).numpy(), pretrainer.discriminator.encoder(batch).numpy())
    with pytest.raises(ValueError, match="give num_labels"):
        ElectraClassifier.from_pretrained(tmp_path / "pretrained")


def test_fine_tuned_directory_round_trip(tmp_path):
    config, classifier = _classifier(num_labels=1)
    classifier.save_pretrained(tmp_path / "tuned")
    restored = ElectraClassifier.from_pretrained(tmp_path / "tuned")
    batch = random_batch()
    assert restored.num_labels == 1
    np.testing.assert_allclose(restored(batch).numpy(), classifier(batch).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="not 2"):
        ElectraClassifier.from_pretrained(tmp_path / "tuned", num_labels=2)


def test_keras_config_round_trip():
    _, classifier = _classifier(dropout=0.0)
    clone = ElectraClassifier.from_config(classifier.get_config())
    clone.set_weights(classifier.get_weights())
    batch = random_batch()
    np.testing.assert_allclose(clone(batch).numpy(), classifier(batch).numpy(), atol=1e-6)


def test_layerwise_decay_multipliers_in_fine_tuning():
    config, classifier = _classifier()
    optimizer = create_optimizer(1e-3, 100, 10, layerwise_lr_decay=0.8, num_layers=config.num_hidden_layers)
    classifier.compile(optimizer=optimizer)
    optimizer.build(classifier.trainable_variables)
    multipliers = {v.path: optimizer.lr_multiplier(v) for v in classifier.trainable_variables}
    by_part = lambda part: {round(m, 6) for path, m in multipliers.items() if part in path}
    assert by_part("/embeddings/") == by_part("embeddings_projection") == {round(0.8 ** 3, 6)}
    assert by_part("transformer_layer_0") == {round(0.8 ** 2, 6)}
    assert by_part("transformer_layer_1") == {0.8}
    assert by_part("/logits/") == {1.0}


def test_fits_a_separable_toy_task():
    keras.utils.set_random_seed(0)
    _, classifier = _classifier(num_labels=2, dropout=0.0)
    batch = random_batch(batch_size=32, seed=1)
    labels = (batch["token_ids"][:, 1] >= 117).astype(np.int32)  # which half of the vocabulary the first word is in
    classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = classifier.fit(batch, labels, batch_size=8, epochs=30, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0] and history["accuracy"][-1] > 0.9


def test_takes_raw_strings_and_pairs_through_its_preprocessor(tmp_path):
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    ElectraPretrainer(config).save_pretrained(tmp_path / "pretrained", tokenizer)
    classifier = ElectraClassifier.from_pretrained(tmp_path / "pretrained", num_labels=2, sequence_length=16,
                                                   dropout=0.0)
    texts = ["the queen was very angry", "alice ran"]
    expected = classifier(classifier.preprocessor(texts)).numpy()
    np.testing.assert_allclose(classifier.predict(tf.constant(texts), verbose=0), expected, atol=1e-5)
    pair = (["is it raining ?"], ["it is raining ."])
    np.testing.assert_allclose(classifier(pair).numpy(), classifier(classifier.preprocessor(pair)).numpy(), atol=1e-6)
    clone = ElectraClassifier.from_config(classifier.get_config())
    clone.set_weights(classifier.get_weights())
    np.testing.assert_allclose(clone(texts).numpy(), expected, atol=1e-5)
    _, bare = _classifier()
    with pytest.raises(ValueError, match="no preprocessor"):
        bare(texts)


def test_a_vocabulary_of_another_size_is_refused_on_loading(tmp_path):
    from electra_tf.export.serving import export_model_directory

    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    config = tiny_config(vocab_size=tokenizer.vocab_size)
    classifier = ElectraClassifier(config, label_names=["no", "yes"])
    classifier.save_pretrained(tmp_path / "tuned", tokenizer)
    vocab = tmp_path / "tuned" / "vocab.txt"
    vocab.write_text(vocab.read_text() + "zzzextrazzz\n")  # 8001 tokens for a model of 8000
    with pytest.raises(ValueError, match="the vocabulary has 8001 tokens but the model's vocab_size is 8000"):
        ElectraClassifier.from_pretrained(tmp_path / "tuned")
    with pytest.raises(ValueError, match="8001 tokens"):
        export_model_directory(tmp_path / "tuned", tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_padding_to_the_batchs_longest_gives_the_predictions_of_padding_to_max_length():
    tokenizer = WordPieceTokenizer(SAMPLE_VOCAB_FILE)
    keras.utils.set_random_seed(3)
    classifier = ElectraClassifier(tiny_config(vocab_size=tokenizer.vocab_size), num_labels=3, dropout=0.0)
    lines = [line for line in SAMPLE_CORPUS_FILE.read_text().splitlines() if 0 < len(line.strip()) < 200]
    texts = tf.constant(sorted(lines[:64], key=len)[::4])  # 16 texts of 1 to ~45 tokens
    pairs = (texts[:8], texts[8:])
    for inputs in (texts, pairs):
        fixed = ElectraPreprocessor(tokenizer, sequence_length=128, padding="max_length")(inputs)
        longest = ElectraPreprocessor(tokenizer, sequence_length=128, padding="longest")(inputs)
        assert fixed["token_ids"].shape[1] == 128 and longest["token_ids"].shape[1] < 128
        assert longest["token_ids"].shape[1] % LENGTH_MULTIPLE == 0
        probabilities = [tf.nn.softmax(classifier(x)).numpy() for x in (fixed, longest)]
        np.testing.assert_allclose(probabilities[1], probabilities[0], atol=1e-5)
        assert probabilities[0].std(axis=0).max() > 1e-3  # the texts get different predictions
