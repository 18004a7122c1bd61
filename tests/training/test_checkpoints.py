"""Step checkpoints: whole or ignored, restored with optimizer and dropout random states, chief-only writes."""

import keras
import numpy as np
import pytest

from electra_tf.training.checkpoints import STATE_FILE, StepCheckpoint, checkpoints, restore_latest, write_checkpoint


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5, seed=seed),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _train(model, steps=3):
    x = np.arange(24, dtype="float32").reshape(8, 3) / 24
    model.fit(x, x[:, :1], batch_size=8, epochs=steps, verbose=0)


def test_a_restored_checkpoint_continues_exactly_and_a_half_written_one_is_ignored(tmp_path):
    directory = str(tmp_path)
    trained = _model()
    _train(trained)
    write_checkpoint(trained, f"{directory}/step-3", 3)
    write_checkpoint(trained, f"{directory}/step-4", 4)
    (tmp_path / "step-4" / STATE_FILE).unlink()  # as if killed while saving step 4
    assert [p.rsplit("/", 1)[1] for p in checkpoints(directory)] == ["step-3"]

    restored = _model(seed=1)
    assert restore_latest(restored, directory) == 3
    assert int(restored.optimizer.iterations) == 3
    _train(trained, steps=2)  # dropout draws continue from the saved random state in both
    _train(restored, steps=2)
    for a, b in zip(trained.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_only_the_newest_checkpoints_are_kept_and_a_non_chief_writes_nowhere(tmp_path):
    model = _model()
    _train(model, steps=1)
    for chief in (True, False):
        callback = StepCheckpoint(str(tmp_path / f"chief_{chief}"), every=2, start_step=0, last_step=7,
                                  is_chief=chief)
        callback.set_model(model)
        for _ in range(7):
            callback.on_train_batch_end(0)
    assert [p.rsplit("/", 1)[1] for p in checkpoints(str(tmp_path / "chief_True"))] == ["step-6", "step-7"]
    assert not (tmp_path / "chief_False").exists()


def test_no_checkpoint_restores_step_zero_and_an_unreadable_one_is_an_error(tmp_path):
    model = _model()
    assert restore_latest(model, str(tmp_path / "none")) == 0
    write_checkpoint(model, f"{tmp_path}/step-1", 1)
    (tmp_path / "step-1" / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="No checkpoint could be restored"):
        restore_latest(model, str(tmp_path))
