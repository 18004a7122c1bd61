"""Gradient accumulation inside the fine-tuning step: k micro-batches give the whole batch's update, on one device
and under a MirroredStrategy (where Keras's optimizer-side accumulation fails)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.accumulation import split_batch
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.training.optimization import create_optimizer
from tests.test_case import random_batch, tiny_config

BATCH = random_batch(batch_size=8, sequence_length=12, lengths=[12, 3, 12, 5, 7, 12, 4, 9], seed=4)
LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1], np.int32)


OPTIMIZERS = {"sgd": lambda: keras.optimizers.SGD(0.5),  # linear in the gradient: catches a wrong scale
              # AdamW is not: only the summed gradient gives the whole batch's update.
              "adamw": lambda: create_optimizer(1e-2, num_train_steps=10, warmup_steps=0)}


def _one_update(strategy, grad_accum_steps, optimizer):
    with strategy.scope():
        keras.utils.set_random_seed(0)  # the same initial weights every time
        model = ElectraClassifier(tiny_config(), num_labels=3, dropout=0.0)
        model.grad_accum_steps = grad_accum_steps
        model.compile(optimizer=OPTIMIZERS[optimizer](),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    logs = model.fit(tf.data.Dataset.from_tensors((BATCH, LABELS)), epochs=1, verbose=0).history
    return model, {name: values[-1] for name, values in logs.items()}


@pytest.mark.parametrize("micro_batches, devices, optimizer", [(4, 1, "sgd"), (4, 1, "adamw"), (2, 2, "sgd")])
def test_micro_batches_give_the_whole_batch_update_and_logs(micro_batches, devices, optimizer, two_device_strategy):
    strategy = two_device_strategy if devices == 2 else tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    initial = ElectraClassifier(tiny_config(), num_labels=3, dropout=0.0).get_weights()
    whole, whole_logs = _one_update(tf.distribute.get_strategy(), 1, optimizer)
    accumulated, logs = _one_update(strategy, micro_batches, optimizer)
    assert logs == pytest.approx(whole_logs, rel=1e-5) and whole_logs["loss"] > 0.5
    for start, a, b in zip(initial, whole.get_weights(), accumulated.get_weights()):
        assert not np.array_equal(start, a)  # every weight moved, the same way
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ValueError, match="divisible by 3, got 8"):
        split_batch((BATCH, LABELS, None), 3)
