"""The CRF against brute force: every tag sequence of small random cases is scored and compared."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.layers.crf import FORBIDDEN, LinearChainCrf, crf_log_likelihood, viterbi_decode
from electra_tf.tag_schemes import allowed_transitions, label_names
from tests.test_case import run_config_round_trip


def _score(emissions, tags, transitions, start, end):
    score = start[tags[0]] + end[tags[-1]] + sum(emissions[t, tag] for t, tag in enumerate(tags))
    return score + sum(transitions[a, b] for a, b in zip(tags, tags[1:]))


def _random_case(rng, batch=5, time=4, tags=3):
    emissions = rng.normal(size=(batch, time, tags)).astype("float32") * 2
    lengths = rng.integers(0, time + 1, size=batch)
    lengths[0] = time
    mask = (np.arange(time)[None] < lengths[:, None]).astype("int32")
    transitions, start, end = (rng.normal(size=shape).astype("float32") for shape in ((tags, tags), (tags,), (tags,)))
    return emissions, mask, lengths, transitions, start, end


@pytest.mark.parametrize("seed", range(4))
def test_viterbi_and_likelihood_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    emissions, mask, lengths, transitions, start, end = _random_case(rng)
    decoded, best = (x.numpy() for x in viterbi_decode(emissions, mask, transitions, start, end))
    for row, length in enumerate(lengths):
        if length == 0:
            assert best[row] == 0 and not decoded[row].any()
            continue
        sequences = list(itertools.product(range(3), repeat=length))
        scores = [_score(emissions[row], tags, transitions, start, end) for tags in sequences]
        assert tuple(decoded[row, :length]) == sequences[int(np.argmax(scores))]
        assert best[row] == pytest.approx(max(scores), abs=1e-4)
        assert not decoded[row, length:].any()
        # log p(y) = score(y) - log-sum-exp over every sequence
        tags = np.array(sequences[seed % len(sequences)] + (0,) * (4 - length))[None]
        log_likelihood = crf_log_likelihood(emissions[row:row + 1], tags, mask[row:row + 1],
                                            transitions, start, end).numpy()[0]
        expected = scores[seed % len(sequences)] - np.logaddexp.reduce(scores)
        assert log_likelihood == pytest.approx(expected, abs=1e-4)


def test_one_step_sequences_decode():
    rng = np.random.default_rng(0)
    emissions, _, _, transitions, start, end = _random_case(rng, time=1)
    decoded, _ = viterbi_decode(emissions, np.ones((5, 1), "int32"), transitions, start, end)
    np.testing.assert_array_equal(decoded.numpy()[:, 0], np.argmax(emissions[:, 0] + start + end, axis=1))

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3]), tf.TensorSpec([None, None], tf.int32)])
    def decode(e, m):  # unknown length, one step at run time
        return viterbi_decode(e, m, transitions, start, end)[0]
    np.testing.assert_array_equal(decode(emissions, np.ones((5, 1), "int32")).numpy(), decoded.numpy())


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_constraints_forbid_every_illegal_transition(scheme):
    names = label_names(["LOC", "PER"], scheme)
    allowed, allowed_start, allowed_end = allowed_transitions(names)
    crf = LinearChainCrf(len(names), allowed=allowed, allowed_start=allowed_start, allowed_end=allowed_end)
    crf.build()
    rng = np.random.default_rng(1)
    # Random transitions that favour illegal moves, and emissions that favour I-/E- tags everywhere.
    crf.set_weights([rng.normal(size=w.shape).astype("float32") * 3 for w in crf.get_weights()])
    emissions = rng.normal(size=(64, 9, len(names))).astype("float32") * 4
    lengths = rng.integers(1, 10, size=64)
    mask = (np.arange(9)[None] < lengths[:, None]).astype("int32")
    decoded = crf.decode(emissions, mask).numpy()
    for row, length in enumerate(lengths):
        tags = decoded[row, :length]
        assert allowed_start[tags[0]] and allowed_end[tags[-1]], [names[t] for t in tags]
        assert all(allowed[a][b] for a, b in zip(tags, tags[1:])), [names[t] for t in tags]
    unconstrained = LinearChainCrf(len(names))
    unconstrained.build()
    unconstrained.set_weights(crf.get_weights())
    decoded = unconstrained.decode(emissions, mask).numpy()
    assert any(not allowed[a][b] for row, length in enumerate(lengths)
               for a, b in zip(decoded[row, :length], decoded[row, 1:length]))  # the constraints did the work


def test_likelihood_training_learns_transitions():
    # Tag 1 always follows tag 0; the emissions say nothing: only the transitions can learn it.
    crf = LinearChainCrf(2)
    crf.build()
    tags = np.array([[0, 1, 0, 1]] * 8)
    emissions = tf.zeros((8, 4, 2))
    optimizer = tf.keras.optimizers.Adam(0.1)
    for _ in range(50):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(crf.log_likelihood(emissions, tags, tf.ones((8, 4))))
        optimizer.apply_gradients(zip(tape.gradient(loss, crf.trainable_variables), crf.trainable_variables))
    assert float(loss) < 0.1
    np.testing.assert_array_equal(crf.decode(emissions, tf.ones((8, 4))).numpy(), tags)


def test_config_round_trip():
    allowed, start, end = allowed_transitions(label_names(["X"], "bioes"))
    crf = LinearChainCrf(5, allowed=allowed, allowed_start=start, allowed_end=end)
    emissions = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    run_config_round_trip(crf, emissions, np.ones((2, 3), "int32"))
    assert FORBIDDEN in crf.scores()[0].numpy()
