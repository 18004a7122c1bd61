import keras
import numpy as np
import tensorflow as tf

from electra_tf.layers.packing import PackedTokens, packing_pays_off
from electra_tf.models.builders import build_embeddings, build_encoder
from tests.test_case import random_batch, tiny_config


def test_unpack_restores_real_tokens_and_zeroes_padding():
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    padded = np.arange(3 * 4 * 2, dtype="float32").reshape(3, 4, 2) + 1
    tokens = PackedTokens(mask)
    packed = tokens.pack(padded)
    assert packed.shape == (8, 2)
    np.testing.assert_array_equal(tokens.unpack_with_zero_padding(packed).numpy(), padded * mask[..., None])
    # plain unpack: padding positions copy a real token of the same row
    np.testing.assert_array_equal(tokens.unpack(packed).numpy()[0, 3], padded[0, 2])


def padded_blocks(encoder, batch, training=False):
    """The encoder's keras-hub blocks on the padded batch, as they run unpacked."""
    x = encoder.embeddings_projection(encoder.embeddings(batch["token_ids"], batch["segment_ids"], training=training))
    for layer in encoder.transformer_layers:
        x = layer(x, padding_mask=batch["padding_mask"], training=training)
    return x


def test_packed_inference_equals_the_padded_blocks_at_real_tokens():
    config = tiny_config()
    encoder = build_encoder(config, build_embeddings(config))
    batch = random_batch(batch_size=4, sequence_length=12, lengths=[12, 7, 3, 9], seed=2)
    mask = batch["padding_mask"].astype(bool)
    eager = encoder(batch).numpy()
    expected = padded_blocks(encoder, batch).numpy()
    for packed in (eager, tf.function(encoder)(batch).numpy()):
        np.testing.assert_allclose(packed[mask], expected[mask], atol=1e-5)
        assert not packed[~mask].any()


def test_xla_runs_the_padded_blocks():
    config = tiny_config()
    encoder = build_encoder(config, build_embeddings(config))
    batch = random_batch(batch_size=3, sequence_length=8, lengths=[8, 5, 2], seed=4)
    seen = []

    def forward(inputs):
        seen.append(packing_pays_off())
        return encoder(inputs)

    compiled = tf.function(forward, jit_compile=True)(batch).numpy()
    assert seen and not any(seen)  # every trace under XLA
    mask = batch["padding_mask"].astype(bool)
    np.testing.assert_allclose(compiled[mask], padded_blocks(encoder, batch).numpy()[mask], atol=1e-5)
    assert compiled[~mask].any()  # padding positions computed, not scattered zeros


def outputs_and_gradients(encoder, batch, compute):
    mask = batch["padding_mask"].astype(bool)
    weights = tf.random.stateless_normal([*mask.shape, encoder.hidden_size], [1, 2])
    with tf.GradientTape() as tape:
        outputs = compute()
        loss = tf.reduce_sum(tf.boolean_mask(outputs * weights, mask))
    gradients = tape.gradient(loss, encoder.trainable_weights)  # the embeddings': IndexedSlices
    return [tf.boolean_mask(outputs, mask), *map(tf.convert_to_tensor, gradients)]


def test_packed_training_equals_the_padded_blocks_in_value_and_gradient():
    keras.utils.set_random_seed(0)  # fixed weights: gradients summed from ~1e2 terms differ in rounding by draw
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    encoder = build_encoder(config, build_embeddings(config))
    batch = random_batch(batch_size=3, sequence_length=10, lengths=[10, 6, 3], seed=5)
    encoder(batch)
    packed = outputs_and_gradients(encoder, batch, lambda: encoder(batch, training=True))
    padded = outputs_and_gradients(encoder, batch, lambda: padded_blocks(encoder, batch, training=True))
    for ours, expected in zip(packed, padded):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), rtol=2e-5, atol=1e-5)  # sums of ~1e2


def test_pre_training_encoders_train_on_the_padded_layout():
    config = tiny_config()
    batch = random_batch(batch_size=3, sequence_length=10, lengths=[10, 6, 3], seed=5)
    padding = ~batch["padding_mask"].astype(bool)
    for pack_in_training, padding_zero in ((True, True), (False, False)):
        encoder = build_encoder(config, build_embeddings(config), pack_in_training=pack_in_training)
        outputs = encoder(batch, training=True).numpy()
        assert (not outputs[padding].any()) == padding_zero
        assert type(encoder).from_config(encoder.get_config()).pack_in_training == pack_in_training


def first_token_outputs_and_gradients(encoder, compute):
    weights = tf.random.stateless_normal([encoder.hidden_size], [3, 4])
    with tf.GradientTape() as tape:
        outputs = compute()
        loss = tf.reduce_sum(outputs * weights)
    gradients = tape.gradient(loss, encoder.trainable_weights)
    return [outputs, *map(tf.convert_to_tensor, gradients)]


def test_first_token_only_gives_zeros_for_a_row_without_tokens_as_the_full_packed_output_does():
    keras.utils.set_random_seed(0)
    config = tiny_config()
    batch = random_batch(batch_size=3, sequence_length=10, lengths=[10, 6, 3], seed=5)
    for name in batch:  # the middle row: all padding
        batch[name][1] = 0
    encoder = build_encoder(config, build_embeddings(config))
    first = encoder(batch, first_token_only=True).numpy()
    np.testing.assert_allclose(first, encoder(batch).numpy()[:, 0], atol=1e-6)
    assert not first[1].any() and first[0].any() and first[2].any()


def test_first_token_only_equals_the_first_position_of_every_block_in_value_and_gradient():
    keras.utils.set_random_seed(0)
    config = tiny_config()
    batch = random_batch(batch_size=3, sequence_length=10, lengths=[10, 6, 3], seed=5)
    for pack_in_training in (True, False):  # the packed and the padded layout
        encoder = build_encoder(config, build_embeddings(config), pack_in_training=pack_in_training)
        encoder(batch)
        first = first_token_outputs_and_gradients(encoder, lambda: encoder(batch, training=True, first_token_only=True))
        expected = first_token_outputs_and_gradients(
            encoder, lambda: padded_blocks(encoder, batch, training=True)[:, 0])
        for ours, reference in zip(first, expected):
            np.testing.assert_allclose(np.asarray(ours), np.asarray(reference), rtol=2e-5, atol=1e-5)
        inference = {"eager": encoder(batch, first_token_only=True),
                     "xla": tf.function(lambda inputs: encoder(inputs, first_token_only=True), jit_compile=True)(batch)}
        for name, outputs in inference.items():
            np.testing.assert_allclose(outputs.numpy(), expected[0].numpy(), atol=1e-5, err_msg=name)
