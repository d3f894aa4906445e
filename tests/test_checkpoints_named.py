"""Step checkpoints store variables by name: another listing order still resumes exactly, another
architecture is refused naming the variables, an old positional .npz is resumed once then replaced."""

import os

import keras
import numpy as np
import pytest

from kbert.errors import KbertInputError
from kbert.training import callbacks as cb
from kbert.training import checkpoints


class TwoHeads(keras.Model):
    """Layers `a` and `b` of equal shape, created in the order given: same names, other variable order."""

    def __init__(self, order=("a", "b"), width=3):
        super().__init__()
        for name in order:
            setattr(self, name, keras.layers.Dense(width, name=name))
        self.order = order

    def call(self, x):
        return self.a(x) + self.b(x)


def _built(order, width=3, seed=0):
    keras.backend.clear_session()  # Keras' per-process name numbering restarts, as in a rerun
    keras.utils.set_random_seed(seed)
    m = TwoHeads(order, width)
    m(np.zeros((1, 3), "float32"))
    for layer in (m.a, m.b):  # deterministic, different values per layer
        layer.kernel.assign(np.full((3, width), 1.0 if layer.name == "a" else 2.0, "float32") + seed)
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return m


def test_restore_matches_variables_by_name_not_position(tmp_path):
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 3), "float32")
    a = _built(("a", "b"))
    a.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[cb.StepCheckpoint(str(tmp_path), every_steps=2)])
    b = _built(("b", "a"), seed=5)
    assert [v.path for v in b.variables] != [v.path for v in a.variables]  # listed in another order
    assert cb.resume(b, str(tmp_path)) == 2
    for name, var in checkpoints.named(a).items():
        np.testing.assert_array_equal(checkpoints.named(b)[name].numpy(), var.numpy())
    assert int(b.optimizer.iterations.numpy()) == 2


def test_another_architecture_is_refused_naming_the_variables(tmp_path):
    checkpoints.save(_built(("a", "b")), str(tmp_path), step=4)
    with pytest.raises(KbertInputError, match=r"another model or optimizer: .*shapes differ: \['\w*/?a/kernel "
                                              r"\(3, 3\) vs \(3, 4\)'.*delete .* to start over"):
        cb.resume(_built(("a", "b"), width=4), str(tmp_path))


def test_old_positional_npz_is_resumed_once_then_replaced(tmp_path):
    a = _built(("a", "b"), seed=1)
    a.optimizer.iterations.assign(6)
    np.savez(tmp_path / "ckpt-6.npz", *[v.numpy() for v in checkpoints.variables(a)])  # what kbert 0.1 wrote
    b = _built(("a", "b"), seed=2)
    with pytest.warns(UserWarning, match="old kbert checkpoint .* resuming from it once"):
        assert cb.resume(b, str(tmp_path)) == 6
    np.testing.assert_array_equal(b.a.kernel.numpy(), a.a.kernel.numpy())
    checkpoints.save(b, str(tmp_path), step=8)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-8.data-00000-of-00001", "ckpt-8.index"]
    assert cb.latest_checkpoint(str(tmp_path))[0] == 8
