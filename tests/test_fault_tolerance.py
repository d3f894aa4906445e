"""Fault tolerance: SIGKILL mid-run and resume; NaN loss stops with the step named, checkpoints intact."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert.training import callbacks as cb
from kbert.training.pretrainer import BertPretrainer

V = 200


def _model():
    keras.backend.clear_session()  # the same variable names as a rerun in a fresh process
    keras.utils.set_random_seed(0)
    m = BertPretrainer(kbert.models.backbone("bert_tiny", vocabulary_size=V, num_layers=1))
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    return m


def _data(n, nan_at=None):
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, V, (n, 8, 12)).astype("int32"), "padding_mask": np.ones((n, 8, 12), "int32"),
         "segment_ids": np.zeros((n, 8, 12), "int32"), "mask_positions": np.tile(np.arange(1, 4), (n, 8, 1))}
    w = np.ones((n, 8, 3), "float32")
    if nan_at is not None:
        w[nan_at] = np.nan
    y = {"mlm_ids": rng.integers(5, V, (n, 8, 3)).astype("int32"), "mlm_weights": w,
         "pair_label": np.zeros((n, 8), "int32")}
    return tf.data.Dataset.from_tensor_slices((x, y))


def test_nan_loss_stops_naming_the_step_and_keeps_last_good_checkpoint(tmp_path):
    model = _model()
    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(cb.NonFiniteLossError, match=r"at step 7 .*ckpt-6 \(step 6\)"):
        model.fit(_data(10, nan_at=6), callbacks=cb.fault_tolerance(ckpt, every_steps=2), verbose=0)
    assert cb.latest_checkpoint(ckpt)[0] == 6
    fresh = _model()
    assert cb.resume(fresh, ckpt) == 6
    assert all(np.isfinite(v.numpy()).all() for v in fresh.weights)
    assert int(fresh.optimizer.iterations.numpy()) == 6


def test_resume_restores_weights_and_optimizer_exactly(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    a = _model()
    a.fit(_data(4), callbacks=cb.fault_tolerance(ckpt, every_steps=4, keep=1), verbose=0)
    b = _model()
    assert cb.resume(b, ckpt) == 4
    for va, vb in zip(a.variables + a.optimizer.variables, b.variables + b.optimizer.variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert sorted(os.listdir(ckpt)) == ["checkpoint", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert cb.resume(_model(), str(tmp_path / "none")) == 0


def test_backup_and_restore_for_epoch_trainers(tmp_path):
    cbs = cb.fault_tolerance(str(tmp_path / "backup"))
    assert isinstance(cbs[0], cb.StopOnNonFiniteLoss) and isinstance(cbs[1], keras.callbacks.BackupAndRestore)


def _pretrain_cmd(out, tok, steps=40):
    return [sys.executable, "-m", "kbert.cli", "pretrain", "--quiet", "--model", "albert_tiny", "--corpus", "bundled",
            "--tokenizer", tok, "--steps", str(steps), "--checkpoint-every", "5", "--seq-len", "32",
            "--batch-size", "4", "--seed", "3", "--out", out]


@pytest.mark.slow
def test_sigkill_mid_run_resumes_without_lost_or_repeated_steps(tmp_path):
    from kbert import tokenizer_training
    from kbert.model_dir import load_model_dir

    tok = str(tmp_path / "tok")
    tokenizer_training.train_sentencepiece("bundled", vocab_size=300, out=tok, max_documents=5)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"overrides": {"num_layers": 1}, "warmup_steps": 5}')
    # Uninterrupted reference run.
    ref = str(tmp_path / "ref")
    subprocess.run(_pretrain_cmd(ref, tok) + ["--config", str(cfg)], env=env, check=True, timeout=400)
    # Interrupted run: SIGKILL once the step-15 checkpoint exists (mid-interval, before the end).
    out = str(tmp_path / "run")
    proc = subprocess.Popen(_pretrain_cmd(out, tok) + ["--config", str(cfg)], env=env)
    deadline = time.time() + 400
    while (cb.latest_checkpoint(os.path.join(out, "checkpoints")) or (0,))[0] < 15:
        assert proc.poll() is None and time.time() < deadline, "training ended before the kill"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = cb.latest_checkpoint(os.path.join(out, "checkpoints"))[0]
    assert 15 <= killed_at < 40 and not os.path.exists(os.path.join(out, "model"))
    # Restart: same command; resumes from the newest checkpoint.
    subprocess.run(_pretrain_cmd(out, tok) + ["--config", str(cfg)], env=env, check=True, timeout=400)
    steps = [int(line.split(",")[0]) for line in open(os.path.join(out, "history.csv")).read().split()[1:]]
    assert steps[-1] == 40 and steps == sorted(set(steps))  # every logged step once, ending at exactly 40
    a, b = load_model_dir(os.path.join(ref, "model")), load_model_dir(os.path.join(out, "model"))
    assert a.meta["steps"] == b.meta["steps"] == 40
    for wa, wb in zip(a.model.weights, b.model.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-5, rtol=1e-4)


def test_best_weights_and_early_stopping_state_survive_a_resume(tmp_path):
    """A rerun after a kill keeps the best val_loss and the patience counter of the killed run, so the
    first (worse) epoch after the resume neither replaces best.weights.h5 nor resets early stopping."""
    work = str(tmp_path / "work")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [1.5]], "float32")

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        return m

    class Kill(keras.callbacks.Callback):  # dies after epoch 1 is fully checkpointed
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("killed")

    first = model()
    with pytest.raises(RuntimeError, match="killed"):
        first.fit(x, y, validation_data=(x, y), epochs=6, batch_size=16, verbose=0,
                  callbacks=cb.epoch_checkpoints(work, patience=2) + [Kill()])
    best_file = os.path.join(work, "best.weights.h5")
    saved = open(best_file, "rb").read()
    # the rerun learns garbage (labels flipped, large steps): every epoch after the resume is worse
    second = model()
    second.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    callbacks = cb.epoch_checkpoints(work, patience=2)
    hist = second.fit(x, -y * 10, validation_data=(x, y), epochs=6, batch_size=16, verbose=0, callbacks=callbacks)
    assert open(best_file, "rb").read() == saved  # fresh state would have saved the resumed epoch 2
    stop = callbacks[1]
    assert stop.best_epoch == 1 and stop.stopped_epoch == 3  # patience 2 counted from epoch 1, not from the resume
    assert len(hist.history["loss"]) == 2  # epochs 2 and 3 ran, then early stopping


def test_persistent_state_restores_the_epoch_the_rerun_starts_at(tmp_path):
    path = str(tmp_path / "state.json")

    class Counter(keras.callbacks.Callback):
        n = 0

    c = Counter()
    state = cb.PersistentState(path, {"c": (c, ("n",))})
    for epoch in range(3):
        c.n = 10 * (epoch + 1)
        state.on_epoch_end(epoch)
    fresh = Counter()
    again = cb.PersistentState(path, {"c": (fresh, ("n",))})
    again.on_train_begin()
    again.on_epoch_begin(2)  # a rerun resuming at epoch 2 gets the state written after epoch 1
    assert fresh.n == 20
    again.on_epoch_begin(3)  # only the first epoch of a run restores
    assert fresh.n == 20
