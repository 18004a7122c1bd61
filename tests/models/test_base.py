"""What every model gets from `PretrainedModel`."""

import keras
import pytest

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
