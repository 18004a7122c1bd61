import numpy as np
import keras
import tensorflow as tf

from electra_tf.config import bert_masking
from electra_tf.models import masking
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.masked_lm import MaskedLMPretrainer
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, tiny_config


def test_bert_masking_statistics_are_80_10_10():
    # Over many slots: 80% [MASK], 10% a random id (rarely the original itself), 10% the original token.
    batch = random_batch(batch_size=64, sequence_length=64, seed=3)
    pretrainer = MaskedLMPretrainer(bert_masking(tiny_config()))
    masked_count = random_count = kept_count = 0
    for step in range(20):
        masked = pretrainer.mask(batch, step=step)
        used = masked.weights.numpy() > 0
        originals = masking.gather_positions(masked.inputs["token_ids"], masked.positions).numpy()[used]
        written = masking.gather_positions(masked.masked_ids, masked.positions).numpy()[used]
        masked_count += np.sum(written == 103)
        kept_count += np.sum(written == originals)
        random_count += np.sum((written != 103) & (written != originals))
    total = masked_count + random_count + kept_count
    vocab = pretrainer.config.vocab_size
    np.testing.assert_allclose(masked_count / total, 0.8, atol=0.01)
    # A random draw equals the original with probability 1/vocab: it then counts as kept.
    np.testing.assert_allclose(random_count / total, 0.1 * (1 - 1 / vocab), atol=0.01)
    np.testing.assert_allclose(kept_count / total, 0.1 + 0.1 / vocab, atol=0.01)


def test_random_replacements_cover_the_vocabulary():
    ids = tf.fill([200, 40], 104)
    positions = tf.tile(tf.range(40)[None], [200, 1])
    written = masking.apply_masks(ids, positions, tf.ones([200, 40]), mask_token_id=103, mask_token_rate=0.0,
                                  random_token_rate=1.0, vocab_size=130, seed=tf.constant([1, 2])).numpy()
    assert written.min() == 0 and written.max() == 129
    assert len(np.unique(written)) == 130


def test_electra_corruption_is_unchanged_by_the_random_rate_at_zero():
    batch = random_batch(batch_size=8, sequence_length=32, seed=1)
    positions, weights = masking.select_positions(batch["token_ids"], batch["padding_mask"], mask_prob=0.15,
                                                  max_predictions=5, special_token_ids=(101, 102, 103),
                                                  seed=tf.constant([4, 4]))
    common = dict(mask_token_id=103, mask_token_rate=0.85, seed=tf.constant([5, 6]))
    np.testing.assert_array_equal(
        masking.apply_masks(batch["token_ids"], positions, weights, **common),
        masking.apply_masks(batch["token_ids"], positions, weights, random_token_rate=0.0, vocab_size=130, **common))


def test_masked_lm_pretraining_learns_and_hands_its_encoder_to_fine_tuning(tmp_path):
    # A fixed batch: the MLM loss falls; the saved directory gives the trained encoder to a task model.
    keras.utils.set_random_seed(0)
    batch = random_batch(batch_size=16, sequence_length=16, seed=2)
    pretrainer = MaskedLMPretrainer(bert_masking(tiny_config()))
    pretrainer.compile(optimizer=create_optimizer(3e-3, 60, 5))
    history = pretrainer.fit(batch, batch_size=16, epochs=60, verbose=0).history
    assert history["mlm_loss"][-1] < 0.75 * history["mlm_loss"][0]  # from ln(130): learns the batch's tokens
    # The loss is the masked-LM loss alone (the two means sum in different orders: equal to float32 rounding).
    np.testing.assert_allclose(history["loss"][-1], history["mlm_loss"][-1], rtol=1e-6)
    pretrainer.save_pretrained(tmp_path / "mlm")
    backbone = ElectraBackbone.from_pretrained(tmp_path / "mlm")
    inputs = {key: tf.constant(value) for key, value in batch.items()}
    np.testing.assert_allclose(backbone.encoder(inputs), pretrainer.encoder(inputs), atol=1e-6)
    reloaded = MaskedLMPretrainer.from_pretrained(tmp_path / "mlm")
    np.testing.assert_allclose(reloaded(batch).mlm_logits, pretrainer(batch).mlm_logits, atol=1e-6)
