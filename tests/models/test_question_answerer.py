import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.pretrainer import ElectraPretrainer
from electra_tf.models.question_answerer import ElectraQuestionAnswerer
from tests.test_case import run_config_round_trip, tiny_config

ANSWER_TOKEN = 110


def _reader(**kwargs):
    config = tiny_config()
    return config, ElectraQuestionAnswerer(config, **kwargs)


def _span_task(count=64, length=14, seed=0):
    """[CLS] q q [SEP] context... [SEP]: the answer is the two tokens starting at ANSWER_TOKEN; a quarter of
    the examples have none (their span is [CLS])."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(111, 130, size=(count, length)).astype(np.int32)
    token_ids[:, 0], token_ids[:, 3], token_ids[:, -1] = 101, 102, 102
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 4:] = 1
    starts = rng.integers(4, length - 2, size=count).astype(np.int32)
    impossible = rng.random(count) < 0.25
    starts[impossible] = 0
    token_ids[~impossible, starts[~impossible]] = ANSWER_TOKEN
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": np.ones_like(token_ids)}
    labels = {"start_positions": starts, "end_positions": np.where(impossible, 0, starts + 1).astype(np.int32),
              "is_impossible": impossible.astype(np.int32)}
    return inputs, labels


def test_only_the_context_and_cls_can_hold_an_answer():
    _, reader = _reader(beam_size=4)
    inputs, _ = _span_task(4)
    inputs["padding_mask"][:, -3:] = 0
    outputs = reader(inputs)
    allowed = (inputs["segment_ids"] * inputs["padding_mask"]).astype(bool)
    allowed[:, 0] = True
    assert np.all(outputs["start_logits"].numpy()[~allowed] < -900)
    assert np.all(allowed[np.arange(4)[:, None], outputs["start_top_index"].numpy()])
    ends = outputs["end_top_index"].numpy()
    assert np.all(allowed[np.arange(4)[:, None, None], ends])
    # The beam keeps the best starts, best first, and for each its best ends.
    start_log_probs = tf.nn.log_softmax(outputs["start_logits"]).numpy()
    np.testing.assert_allclose(outputs["start_top_log_probs"].numpy(), -np.sort(-start_log_probs, -1)[:, :4],
                               atol=1e-6)
    assert np.all(np.diff(outputs["end_top_log_probs"].numpy(), axis=-1) <= 0)


def test_the_beam_ends_are_the_teacher_forced_ends_of_each_start():
    _, reader = _reader(beam_size=3)
    inputs, _ = _span_task(4)
    beam = reader(inputs)
    for k in range(3):
        starts = beam["start_top_index"].numpy()[:, k]
        forced = reader({**inputs, "start_positions": starts})["end_logits"]
        best = -np.sort(-tf.nn.log_softmax(forced).numpy(), -1)[:, :3]
        np.testing.assert_allclose(beam["end_top_log_probs"].numpy()[:, k], best, atol=1e-5)


def test_the_loss_is_the_original_objective():
    _, reader = _reader()
    inputs, labels = _span_task(8)
    outputs = reader({**inputs, "start_positions": labels["start_positions"]})
    rows = np.arange(8)
    start = -tf.nn.log_softmax(outputs["start_logits"]).numpy()[rows, labels["start_positions"]]
    end = -tf.nn.log_softmax(outputs["end_logits"]).numpy()[rows, labels["end_positions"]]
    answerable = tf.nn.sigmoid_cross_entropy_with_logits(labels["is_impossible"].astype(np.float32),
                                                         outputs["answerable_logits"]).numpy()
    expected = np.mean((start + end) / 2 + 0.5 * answerable)
    np.testing.assert_allclose(float(reader.compute_loss(y=labels, y_pred=outputs)), expected, rtol=1e-5)


@pytest.mark.parametrize("head", ["original", "huggingface"])
def test_fit_learns_to_find_the_span(head):
    _, reader = _reader(head=head, beam_size=2)
    reader.compile(optimizer=keras.optimizers.Adam(2e-3))
    inputs, labels = _span_task(96)
    history = reader.fit({**inputs, "start_positions": labels["start_positions"]}, labels, batch_size=16, epochs=10,
                         verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    test_inputs, test_labels = _span_task(64, seed=1)
    outputs = reader.predict(test_inputs, verbose=0)
    best_start = outputs["start_top_index"][:, 0] if head == "original" else outputs["start_logits"].argmax(-1)
    assert np.mean(best_start == test_labels["start_positions"]) > 0.6  # chance: 1 in 9


def test_save_and_load_and_start_from_a_pretrained_model(tmp_path):
    config, reader = _reader(head_hidden_size=16, beam_size=5)
    inputs, _ = _span_task(4)
    run_config_round_trip(reader, {**inputs, "start_positions": np.zeros(4, np.int32)})
    reader.save_pretrained(tmp_path / "squad")
    restored = ElectraQuestionAnswerer.from_pretrained(tmp_path / "squad")
    assert (restored.head_hidden_size, restored.beam_size) == (16, 5)
    for name, value in reader(inputs).items():
        np.testing.assert_array_equal(restored(inputs)[name].numpy(), value.numpy(), err_msg=name)
    ElectraPretrainer(config).save_pretrained(tmp_path / "pretrained")
    fresh = ElectraQuestionAnswerer.from_pretrained(tmp_path / "pretrained", head="huggingface")
    assert set(fresh(inputs)) == {"start_logits", "end_logits"}
    with pytest.raises(ValueError, match="Unknown head"):
        _reader(head="pointer")


@pytest.mark.slow
def test_trains_and_predicts_the_beam_under_xla_in_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        _, reader = _reader(beam_size=3)
        reader.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=True)
        inputs, labels = _span_task(32)
        history = reader.fit({**inputs, "start_positions": labels["start_positions"]}, labels, batch_size=16,
                             epochs=3, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]
        outputs = reader.predict(inputs, verbose=0)
        assert outputs["end_top_log_probs"].dtype == np.float32 and outputs["end_top_index"].shape == (32, 3, 3)
        assert np.all(outputs["start_logits"][:, 1:4] < -900)  # the question, in bfloat16 too
    finally:
        keras.mixed_precision.set_global_policy("float32")
