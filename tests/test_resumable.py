"""fit_resumable: a run interrupted at any step and rerun ends with the weights of an uninterrupted one."""

import keras
import numpy as np
import pytest

from kbert.training import callbacks as cb
from kbert.training.resumable import fit_resumable

RNG = np.random.default_rng(0)
X = {"a": RNG.normal(size=(30, 4)).astype("float32")}
Y = RNG.normal(size=(30, 1)).astype("float32")


def _model():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    i = keras.Input((4,), name="a")
    m = keras.Model({"a": i}, keras.layers.Dense(1)(keras.layers.Dropout(0.3)(keras.layers.Dense(8)(i))))
    m.compile(optimizer="adam", loss="mse")
    return m


def _fit(model, directory):
    return fit_resumable(model, X, Y, batch_size=4, epochs=3, directory=str(directory), every_steps=5, verbose=0,
                         validation_data=(X, Y))


@pytest.mark.parametrize("stop_at", [12, 16])  # mid epoch 2 (8 steps per epoch), and at its last step
def test_interrupted_and_rerun_equals_uninterrupted(tmp_path, monkeypatch, stop_at):
    ref = _model()
    expected = _fit(ref, tmp_path / "ref")

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == stop_at:
                raise KeyboardInterrupt

    real = cb.fault_tolerance
    monkeypatch.setattr(cb, "fault_tolerance", lambda *a, **k: real(*a, **k) + [Stop()])
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), tmp_path / "run")
    monkeypatch.undo()
    assert cb.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))[0] == (10 if stop_at == 12 else 15)
    resumed = _model()
    history = _fit(resumed, tmp_path / "run")
    for a, b in zip(ref.get_weights(), resumed.get_weights()):  # dropout, data order and Adam state all resumed
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert int(resumed.optimizer.iterations.numpy()) == 24
    assert history["val_loss"] == pytest.approx(expected["val_loss"]) and len(history["loss"]) == 3
    assert cb.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))[0] == 24
    # a rerun of a finished run trains nothing more
    again = _model()
    assert _fit(again, tmp_path / "run")["val_loss"] == history["val_loss"]
    assert int(again.optimizer.iterations.numpy()) == 24
