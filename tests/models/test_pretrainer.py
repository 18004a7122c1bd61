import numpy as np
import keras
import pytest
import tensorflow as tf

from electra_tf.models.losses import replica_share_of_mean
from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, tiny_config

# Randomness forced out (every candidate selected and masked, greedy sampling): two runs of the same
# batch must agree exactly, whatever the device layout.
DETERMINISTIC = dict(mask_prob=1.0, mask_token_rate=1.0, temperature=0.0)


def _built(config, batch, **kwargs):
    pretrainer = ElectraPretrainer(config, **kwargs)
    pretrainer(batch)
    return pretrainer


def test_generator_and_discriminator_share_embeddings_but_not_projections():
    batch = random_batch()
    pretrainer = _built(tiny_config(), batch)
    generator, discriminator = pretrainer.generator.encoder, pretrainer.discriminator.encoder
    assert generator.embeddings is discriminator.embeddings
    shared = generator.embeddings
    for a, b in zip(shared.weights, discriminator.embeddings.weights):
        assert a is b
    assert {w.path.split("/")[-2] for w in shared.weights} == {
        "token_embedding", "position_embedding", "segment_embedding", "embeddings_layer_norm"}
    assert generator.embeddings_projection.kernel is not discriminator.embeddings_projection.kernel
    assert tuple(generator.embeddings_projection.kernel.shape) == (32, 16)
    assert tuple(discriminator.embeddings_projection.kernel.shape) == (32, 64)
    paths = [v.path for v in pretrainer.trainable_variables]
    assert len(paths) == len(set(id(v) for v in pretrainer.trainable_variables))
    assert sum("token_embedding" in path for path in paths) == 1


def test_one_update_moves_the_shared_table_seen_by_both_towers():
    batch = random_batch()
    pretrainer = _built(tiny_config(), batch)
    pretrainer.compile(optimizer=keras.optimizers.SGD(0.1))
    before = pretrainer.embeddings.word_embeddings.numpy().copy()
    pretrainer.fit(batch, batch_size=4, epochs=1, verbose=0)
    after = pretrainer.discriminator.encoder.embeddings.word_embeddings.numpy()
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, pretrainer.generator.encoder.embeddings.word_embeddings.numpy())


def test_generator_logits_exist_only_at_the_mask_slots():
    config = tiny_config()
    batch = random_batch(batch_size=3, sequence_length=40)
    output = _built(config, batch)(batch)
    assert tuple(output.mlm_logits.shape) == (3, config.max_predictions(40), config.vocab_size)
    assert output.mlm_logits.dtype == tf.float32


def test_labels_mark_exactly_the_changed_tokens():
    batch = random_batch(batch_size=8, sequence_length=32, seed=1)
    output = _built(tiny_config(), batch)(batch)
    used = output.weights.numpy() > 0
    sampled, targets, positions = output.sampled_ids.numpy(), output.targets.numpy(), output.positions.numpy()
    labels = output.rtd_labels.numpy()
    expected = np.zeros_like(labels)
    for row, slot in zip(*np.nonzero(used)):
        expected[row, positions[row, slot]] = float(sampled[row, slot] != targets[row, slot])
    np.testing.assert_array_equal(labels, expected)


def test_a_correct_sample_is_labelled_real():
    # A generator whose output bias makes token 110 certain, on input made of token 110: every sample
    # equals the original, so nothing counts as replaced although 100% of candidates were masked.
    config = tiny_config(**DETERMINISTIC)
    batch = random_batch(batch_size=2, sequence_length=12)
    batch["token_ids"] = np.where(batch["token_ids"] >= 104, 110, batch["token_ids"])
    pretrainer = _built(config, batch)
    bias = np.zeros(config.vocab_size, np.float32)
    bias[110] = 1e4
    pretrainer.generator.head.output_bias.assign(bias)
    output = pretrainer(batch)
    assert output.weights.numpy().sum() > 0
    assert (output.sampled_ids.numpy()[output.weights.numpy() > 0] == 110).all()
    assert output.rtd_labels.numpy().sum() == 0


def test_masking_is_fresh_each_step_and_reproducible_from_the_step():
    batch = random_batch(batch_size=4, sequence_length=32)
    pretrainer = _built(tiny_config(), batch)
    step_0, step_0_again, step_1 = (pretrainer(batch, step=s).positions.numpy() for s in (0, 0, 1))
    np.testing.assert_array_equal(step_0, step_0_again)
    assert not np.array_equal(step_0, step_1)


def test_total_loss_weights_mlm_and_rtd():
    batch = random_batch(batch_size=4, sequence_length=16)
    config = tiny_config(mlm_weight=2.0, rtd_weight=7.0)
    pretrainer = _built(config, batch)
    output = pretrainer(batch)
    mlm, rtd, total = pretrainer.losses_of(output)
    weights, mask = output.weights.numpy(), output.padding_mask.numpy()
    mlm_mean = (mlm.numpy() * weights).sum() / (weights.sum() + 1e-6)
    rtd_mean = (rtd.numpy() * mask).sum() / (mask.sum() + 1e-6)
    assert float(total) == pytest.approx(2.0 * mlm_mean + 7.0 * rtd_mean, rel=1e-6)


def test_bad_inputs_are_refused_with_clear_errors():
    with pytest.raises(ValueError, match="mask_token_id"):
        ElectraPretrainer(tiny_config(mask_token_id=None))
    pretrainer = ElectraPretrainer(tiny_config(max_position_embeddings=16))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        pretrainer(random_batch(sequence_length=24))
    with pytest.raises(ValueError, match="missing \\['padding_mask'\\]"):
        pretrainer.compile(optimizer="adam")
        batch = random_batch()
        del batch["padding_mask"]
        pretrainer.train_step(batch)


def test_replica_shares_sum_to_the_global_token_weighted_mean(two_device_strategy):
    strategy = two_device_strategy
    values = [np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.array([10.0, 20.0, 30.0, 40.0], np.float32)]
    weights = [np.array([1, 1, 1, 1], np.float32), np.array([1, 0, 0, 0], np.float32)]  # uneven padding

    def share(context):
        return replica_share_of_mean(tf.constant(values[context.replica_id_in_sync_group]),
                                     tf.constant(weights[context.replica_id_in_sync_group]))

    per_replica = strategy.run(lambda: share(tf.distribute.get_replica_context()))
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
    assert float(total) == pytest.approx(20.0 / 5.0, rel=1e-5)  # not (2.5 + 10) / 2


def _fit_one_epoch(strategy, config, batch, initial_weights):
    with strategy.scope():
        pretrainer = ElectraPretrainer(config)
        pretrainer(batch)
        pretrainer.set_weights(initial_weights)
        pretrainer.compile(optimizer=keras.optimizers.SGD(0.05))
    history = pretrainer.fit(batch, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return pretrainer, {key: values[-1] for key, values in history.history.items()}


def test_mirrored_strategy_matches_one_device(two_device_strategy):
    config = tiny_config(**DETERMINISTIC)
    batch = random_batch(batch_size=16, sequence_length=16, seed=5,
                         lengths=[16, 16, 16, 16, 4, 4, 4, 4, 16, 5, 16, 5, 9, 9, 3, 16])
    reference = _built(config, batch).get_weights()
    one, one_logs = _fit_one_epoch(tf.distribute.get_strategy(), config, batch, reference)
    two, two_logs = _fit_one_epoch(two_device_strategy, config, batch, reference)
    assert one_logs["loss"] > 1.0
    for name, value in one_logs.items():
        assert two_logs[name] == pytest.approx(value, abs=1e-4), name
    for a, b in zip(one.get_weights(), two.get_weights()):
        # Two replicas sum in another order: float32 rounding, relative to the weight's size.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("policy, jit_compile", [
    ("float32", True), ("mixed_bfloat16", False), ("mixed_float16", False),
    pytest.param("mixed_bfloat16", True, marks=pytest.mark.slow)])
def test_trains_under_xla_and_mixed_precision(policy, jit_compile):
    keras.mixed_precision.set_global_policy(policy)
    try:
        batch = random_batch(batch_size=8, sequence_length=16)
        pretrainer = ElectraPretrainer(tiny_config())
        pretrainer.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit_compile)
        history = pretrainer.fit(batch, batch_size=4, epochs=3, verbose=0)
        assert all(np.isfinite(history.history["loss"]))
        assert pretrainer.discriminator.encoder.transformer_layers[0].compute_dtype == policy.replace("mixed_", "")
        assert pretrainer.embeddings.word_embeddings.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_whole_word_masking_masks_every_piece_of_a_chosen_word_and_trains_under_xla():
    batch = random_batch(batch_size=8, sequence_length=32, seed=4)
    rng = np.random.default_rng(4)
    batch["word_start"] = (rng.random((8, 32)) < 0.5).astype("int32")  # words of about two pieces
    pretrainer = _built(tiny_config(mask_prob=0.3), {key: value for key, value in batch.items()
                                                     if key != "word_start"})
    masked = pretrainer.mask(batch, step=1)
    chosen = np.zeros((8, 32), bool)
    for row, (positions, weights) in enumerate(zip(masked.positions.numpy(), masked.weights.numpy())):
        chosen[row, positions[weights > 0]] = True
    real = batch["padding_mask"].astype(bool) & ~np.isin(batch["token_ids"], (101, 102, 103))
    after_special = np.pad(~real[:, :-1], [(0, 0), (1, 0)], constant_values=True)
    word = np.cumsum(batch["word_start"].astype(bool) | ~real | after_special, axis=1)  # specials: own words
    for row in range(8):
        for w in np.unique(word[row][chosen[row]]):
            members = real[row] & (word[row] == w)
            assert chosen[row][members].all(), f"row {row}: word {np.flatnonzero(members)} partly masked"
    assert set(masked.inputs) == {"token_ids", "segment_ids", "padding_mask"}  # the towers get no word starts
    # The training step masks with the batch's word starts too (it once dropped them with the other extra keys).
    step_inputs = []
    mask = pretrainer.mask
    pretrainer.mask = lambda inputs, step=0: step_inputs.append(set(inputs)) or mask(inputs, step)
    pretrainer.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=True)
    history = pretrainer.fit(batch, batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert step_inputs and all("word_start" in keys for keys in step_inputs)


@pytest.mark.parametrize("jit_compile, accumulation, optimizer", [
    # Slow: four SGD micro-batches are tests/models/test_accumulation.py's default case; the Adam case stays here.
    pytest.param(False, 4, lambda: keras.optimizers.SGD(0.1), marks=pytest.mark.slow),
    pytest.param(True, 4, lambda: keras.optimizers.SGD(0.1), marks=pytest.mark.slow),
    # Adam is not linear in the gradient: the embedding tables' repeated rows must be summed before
    # the update with accumulation (which sums micro-batches densely) and without it alike.
    (False, 2, lambda: create_optimizer(1e-2, num_train_steps=10, warmup_steps=0))])
def test_gradient_accumulation_gives_the_whole_batch_update(jit_compile, accumulation, optimizer):
    # Uneven padding on purpose: micro-batches are normalised by the whole batch's token counts.
    config = tiny_config(temperature=0.0)
    batch = random_batch(batch_size=8, sequence_length=12, lengths=[12, 3, 12, 5, 7, 12, 4, 9], seed=2)
    reference = _built(config, batch).get_weights()
    results = []
    for steps in (1, accumulation):
        pretrainer = _built(config, batch, grad_accum_steps=steps)
        pretrainer.set_weights(reference)
        pretrainer.compile(optimizer=optimizer(), jit_compile=jit_compile)
        history = pretrainer.fit(batch, batch_size=8, epochs=1, shuffle=False, verbose=0).history
        results.append((pretrainer.get_weights(), history))
    (one_weights, one_logs), (accumulated_weights, accumulated_logs) = results
    for a, b in zip(one_weights, accumulated_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for name in ("loss", "mlm_loss", "rtd_loss", "rtd_auc"):
        assert accumulated_logs[name][0] == pytest.approx(one_logs[name][0], abs=1e-4), name


def test_gradient_accumulation_under_mirrored_strategy(two_device_strategy):
    # Keras's own optimizer-side accumulation fails under MirroredStrategy; ours is inside the step.
    config = tiny_config(temperature=0.0)
    batch = random_batch(batch_size=16, sequence_length=12, seed=4)
    reference = _built(config, batch).get_weights()
    single = _built(config, batch)
    single.set_weights(reference)
    single.compile(optimizer=keras.optimizers.SGD(0.1))
    single_loss = single.fit(batch, batch_size=16, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    with two_device_strategy.scope():
        mirrored = ElectraPretrainer(config, grad_accum_steps=2)
        mirrored(batch)
        mirrored.set_weights(reference)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.1))
    mirrored_loss = mirrored.fit(batch, batch_size=16, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    assert np.isfinite(mirrored_loss)
    # Masking differs per replica (each replica has its own random stream), so compare loosely.
    assert mirrored_loss == pytest.approx(single_loss, rel=0.05)


def test_gradient_accumulation_refuses_an_indivisible_batch():
    pretrainer = ElectraPretrainer(tiny_config(), grad_accum_steps=3)
    pretrainer.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="divisible by 3"):
        pretrainer.fit(random_batch(batch_size=4), batch_size=4, verbose=0)


def test_generator_and_discriminator_rebuild_from_their_config():
    batch = random_batch()
    pretrainer = ElectraPretrainer(tiny_config())
    for model, call in ((pretrainer.generator, lambda m: m(batch, positions=np.array([[1, 2]] * 4))),
                        (pretrainer.discriminator, lambda m: m(batch))):
        clone = type(model).from_config(model.get_config())
        call(clone)  # builds the head
        clone.set_weights(model.get_weights())
        np.testing.assert_allclose(call(clone).numpy(), call(model).numpy(), atol=1e-6)
