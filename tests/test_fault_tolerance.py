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
    with pytest.raises(cb.NonFiniteLossError, match=r"at step 7 .*ckpt-6\.npz \(step 6\)"):
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
    assert sorted(os.listdir(ckpt)) == ["checkpoint.json", "ckpt-4.npz"]
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
    while not os.path.exists(os.path.join(out, "checkpoints", "ckpt-15.npz")):
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
