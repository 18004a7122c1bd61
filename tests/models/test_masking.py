import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models import masking
from tests.test_case import random_batch

SPECIALS = (101, 102, 103)


def _select(batch, seed, **kwargs):
    options = dict(mask_prob=0.15, max_predictions=19, special_token_ids=SPECIALS)
    options.update(kwargs)
    return masking.select_positions(
        tf.constant(batch["token_ids"]), tf.constant(batch["padding_mask"]), seed=tf.constant([seed, 7]), **options)


@pytest.mark.parametrize("with_replacement", [False, True])
def test_selection_statistics_over_many_batches(with_replacement):
    selected, candidates, mask_tokens = 0, 0, 0
    for seed in range(40):
        batch = random_batch(batch_size=32, sequence_length=128, seed=seed)
        batch["token_ids"][:, 5] = np.where(batch["padding_mask"][:, 5] > 0, 103, 0)  # a [MASK] already there
        positions, weights = _select(batch, seed, with_replacement=with_replacement)
        positions, weights = positions.numpy(), weights.numpy()
        ids, real = batch["token_ids"], batch["padding_mask"]
        lengths = real.sum(axis=1)
        expected_counts = np.clip(np.round(lengths * 0.15), 1, 19)
        np.testing.assert_array_equal(weights.sum(axis=1), expected_counts)
        used = weights > 0
        chosen = np.take_along_axis(ids, positions, axis=1)[used]
        assert not np.isin(chosen, SPECIALS + (0,)).any(), "a special or padding token was selected"
        assert positions.shape[1] == 19 and (positions[~used] == 0).all()
        if not with_replacement:
            for row in range(len(ids)):
                assert len(set(positions[row][used[row]])) == used[row].sum(), "duplicate position"
        selected += used.sum()
        candidates += (real.astype(bool) & ~np.isin(ids, SPECIALS)).sum()
        masked = masking.apply_masks(tf.constant(ids), tf.constant(positions), tf.constant(weights),
                                     mask_token_id=103, mask_token_rate=0.85, seed=tf.constant([seed, 9])).numpy()
        mask_tokens += ((masked == 103) & (ids != 103)).sum()
        unchanged = masked == ids
        for row in range(len(ids)):
            others = np.setdiff1d(np.arange(ids.shape[1]), positions[row][used[row]])
            assert unchanged[row, others].all(), "an unselected token changed"
    # About 15% of candidates (slightly more: [CLS]/[SEP] count in num_tokens but are never candidates).
    assert 0.15 <= selected / candidates <= 0.165
    if not with_replacement:
        assert mask_tokens / selected == pytest.approx(0.85, abs=0.02)


def test_examples_without_candidates_get_no_slots():
    batch = {"token_ids": np.array([[101, 102, 0, 0]]), "padding_mask": np.array([[1, 1, 0, 0]])}
    for with_replacement in (False, True):
        positions, weights = _select(batch, 1, max_predictions=2, with_replacement=with_replacement)
        assert weights.numpy().sum() == 0 and (positions.numpy() == 0).all()


def test_rates_one_mask_every_candidate():
    batch = random_batch(batch_size=2, sequence_length=10, lengths=[10, 6])
    positions, weights = _select(batch, 3, mask_prob=1.0, max_predictions=10)
    masked = masking.apply_masks(tf.constant(batch["token_ids"]), positions, weights, mask_token_id=103,
                                 mask_token_rate=1.0, seed=tf.constant([1, 1])).numpy()
    expected = np.where((batch["token_ids"] >= 104), 103, batch["token_ids"])
    np.testing.assert_array_equal(masked, expected)


def test_scatter_update_averages_duplicate_positions_like_the_original():
    ids = tf.constant([[5, 6, 7, 8]])
    updated = masking.scatter_update(ids, tf.constant([[20, 31, 40, 99]]), tf.constant([[1, 1, 3, 2]]),
                                     tf.constant([[1.0, 1.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(updated.numpy(), [[5, 25, 7, 40]])  # floor((20 + 31) / 2); unused slot ignored


def test_gather_positions():
    sequence = tf.reshape(tf.range(2 * 4 * 3), (2, 4, 3))
    gathered = masking.gather_positions(sequence, tf.constant([[3, 0], [1, 1]]))
    np.testing.assert_array_equal(gathered.numpy(), np.asarray(sequence)[[[0], [1]], [[3, 0], [1, 1]]])


def test_gumbel_sampling_follows_the_softmax():
    logits = tf.math.log(tf.constant([[[0.7, 0.2, 0.1]]]))
    logits = tf.tile(logits, [1, 20000, 1])
    samples = masking.sample_from_logits(logits, temperature=1.0, seed=tf.constant([4, 2])).numpy()
    np.testing.assert_allclose(np.bincount(samples.ravel(), minlength=3) / samples.size, [0.7, 0.2, 0.1], atol=0.01)


def test_the_discriminator_loss_does_not_reach_the_generator():
    # The generator learns from its MLM loss only: its samples are integer ids, through which no gradient
    # flows. The MLM loss does reach the same variables, so the check is not vacuous.
    from electra_tf.models.pretrainer import ElectraPretrainer
    from tests.test_case import tiny_config

    pretrainer = ElectraPretrainer(tiny_config(temperature=1.0))
    batch = random_batch(batch_size=4, sequence_length=12)
    shared = {id(v) for v in pretrainer.embeddings.trainable_variables}
    generator_only = [v for v in pretrainer.generator.trainable_variables if id(v) not in shared]
    with tf.GradientTape(persistent=True) as tape:
        output = pretrainer(batch, training=True)
        mlm_losses, rtd_losses, _ = pretrainer.losses_of(output)
        rtd_loss, mlm_loss = tf.reduce_sum(rtd_losses), tf.reduce_sum(mlm_losses * output.weights)
    assert all(g is None for g in tape.gradient(rtd_loss, generator_only))
    assert all(g is not None for g in tape.gradient(mlm_loss, generator_only))


def test_gumbel_sampling_runs_in_float32_under_half_precision():
    # Nearly tied bfloat16 logits: the sampler must not collapse onto one id.
    logits = tf.cast(tf.fill([1, 4000, 4], 1.0), tf.bfloat16)
    samples = masking.sample_from_logits(logits, temperature=1.0, seed=tf.constant([1, 3])).numpy()
    assert np.bincount(samples.ravel(), minlength=4).min() > 800


def test_temperature_zero_is_argmax():
    logits = tf.constant([[[0.1, 3.0, 0.2], [2.0, 1.0, 0.0]]])
    sampled = masking.sample_from_logits(logits, temperature=0.0, seed=tf.constant([0, 0]))
    np.testing.assert_array_equal(sampled.numpy(), [[1, 0]])


def _random_words(batch, seed, continue_prob):
    """word_starts [B, L]: each token continues the previous token's word with `continue_prob`."""
    rng = np.random.default_rng(seed)
    return (rng.random(batch["token_ids"].shape) >= continue_prob).astype(np.int32)


@pytest.mark.parametrize("continue_prob", [0.25, 0.5])  # English-like word pieces, Chinese-like words
def test_whole_word_masking_never_splits_a_word_and_keeps_the_budget(continue_prob):
    selected, budget = 0, 0
    for seed in range(40):
        batch = random_batch(batch_size=32, sequence_length=128, seed=seed)
        starts = _random_words(batch, seed, continue_prob)
        positions, weights = _select(batch, seed, word_starts=tf.constant(starts))
        positions, weights = positions.numpy(), weights.numpy()
        ids, real = batch["token_ids"], batch["padding_mask"]
        candidates = real.astype(bool) & ~np.isin(ids, SPECIALS)
        counts = np.clip(np.round(real.sum(axis=1) * 0.15), 1, 19)
        for row in range(len(ids)):
            chosen = set(positions[row][weights[row] > 0])
            assert len(chosen) == (weights[row] > 0).sum() <= counts[row]
            # A word: a start and the candidate tokens after it up to the next start or non-candidate.
            word = np.cumsum(starts[row] | ~candidates[row] | np.r_[True, ~candidates[row][:-1]])
            for w in np.unique(word[candidates[row]]):
                members = set(np.flatnonzero((word == w) & candidates[row]))
                assert members <= chosen or not members & chosen, f"word {sorted(members)} split: {sorted(chosen)}"
        selected += weights.sum()
        budget += counts.sum()
    # Up to one word short of the budget per example (the prefix rule), so close to mask_prob overall.
    assert 0.9 < selected / budget <= 1.0


def test_whole_word_masking_compiles_with_xla_to_the_same_slots():
    batch = random_batch(batch_size=8, sequence_length=64, seed=3)
    starts = tf.constant(_random_words(batch, 3, 0.4))
    args = (tf.constant(batch["token_ids"]), tf.constant(batch["padding_mask"]), starts)

    def select(token_ids, padding_mask, word_starts):
        return masking.select_positions(token_ids, padding_mask, mask_prob=0.15, max_predictions=10,
                                        special_token_ids=SPECIALS, seed=tf.constant([1, 2]),
                                        word_starts=word_starts)

    plain = tf.function(select)(*args)
    compiled = tf.function(select, jit_compile=True)(*args)
    for expected, actual in zip(plain, compiled):
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())
        assert actual.shape[1] == 10
