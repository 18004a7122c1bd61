"""What every model gets from `PretrainedModel`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.pretrainer import ElectraPretrainer
from tests.test_case import random_batch, tiny_config


@pytest.mark.parametrize("make_model", [lambda: ElectraPretrainer(tiny_config()),
                                        lambda: ElectraClassifier(tiny_config(), 2)], ids=["pretrainer", "classifier"])
def test_fit_traces_the_train_step_once(make_model):
    # Keras would build the optimizer inside the first trace; the variables created there cost a second trace.
    model = make_model()
    batch = random_batch(batch_size=8)
    model(batch)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    traces = []
    train_step = model.train_step
    model.train_step = lambda data: (traces.append(1), train_step(data))[1]
    labels = None if isinstance(model, ElectraPretrainer) else (batch["token_ids"][:, 1] % 2)
    model.fit(batch, labels, batch_size=4, epochs=2, verbose=0)
    assert len(traces) == 1
    assert model.optimizer.iterations.numpy() == 4


def test_predict_traces_once_for_batches_of_any_shape():
    # Keras's predict calls its step with each batch's tensors: three shapes would be three traces.
    model = ElectraClassifier(tiny_config(), 2)
    batches = [random_batch(size, length) for size, length in ((4, 8), (4, 16), (2, 8))]
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature={
        key: tf.TensorSpec([None, None], tf.int32) for key in batches[0]})
    traces = []
    predict_step = model.predict_step
    model.predict_step = lambda data: (traces.append(1), predict_step(data))[1]
    logits = model.predict(dataset, verbose=0)
    assert len(traces) == 1
    expected = np.concatenate([model(batch, training=False).numpy() for batch in batches])
    np.testing.assert_allclose(logits, expected, atol=1e-5)
