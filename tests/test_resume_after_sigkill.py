"""SIGKILL mid-run, rerun the same command: distillation resumes from its step checkpoint and ends with the
weights of an uninterrupted run; fine-tuning resumes at the interrupted epoch. The kill is a real SIGKILL
of the CLI process, sent by a callback at a fixed optimizer step (so the test does not race the clock)."""

import csv
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kbert
from kbert.model_dir import load_model_dir, save_model_dir

WORDS = ["good", "great", "fine", "bad", "awful", "poor", "movie", "film", "plot", "the", "a", "was"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]

# Runs `kbert ARGS...`, SIGKILLing itself right after optimizer step KILL_AT (when given).
DRIVER = textwrap.dedent("""
    import os, signal, sys
    kill_at = int(os.environ.get("KILL_AT", "0"))
    if kill_at:
        import keras
        from kbert.training import callbacks as cb

        class Kill(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if int(self.model.optimizer.iterations.numpy()) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        real = getattr(cb, os.environ["KILL_HOOK"])  # the trainer's callback list gets Kill() last
        setattr(cb, os.environ["KILL_HOOK"], lambda *a, **k: real(*a, **k) + [Kill()])
    from kbert.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _kbert(args, kill_at=None, hook="fault_tolerance"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.getcwd(),
               KILL_AT=str(kill_at or 0), KILL_HOOK=hook)
    return subprocess.run([sys.executable, "-c", DRIVER, "--quiet", *args], env=env, timeout=300,
                          capture_output=True, text=True)


def _data(path, n=40, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            label = ["neg", "pos"][i % 2]
            word = rng.choice(WORDS[:3] if label == "pos" else WORDS[3:6])
            w.writerow([f"the {rng.choice(WORDS[6:9])} was {word}", label])
    return str(path)


@pytest.mark.slow
def test_distill_sigkill_resumes_to_the_uninterrupted_weights(tmp_path):
    from kbert.tasks.classifier import build_classifier

    tok = kbert.tokenizers.wordpiece(VOCAB, "bert")
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB), num_layers=2, max_sequence_length=16)
    save_model_dir(tmp_path / "teacher", build_classifier(enc, 2), tok, task="classify", seq_len=8,
                   labels=["neg", "pos"], pair=False, multi_label=False)
    args = ["distill", "--teacher", str(tmp_path / "teacher"), "--student-layers", "1", "--data",
            _data(tmp_path / "d.csv"), "--epochs", "3", "--batch-size", "4", "--checkpoint-every", "4", "--seed", "1"]
    # 40 rows: 8 held out, 32 for training -> 8 steps per epoch, 24 in all
    ref = _kbert(args + ["--out", str(tmp_path / "ref")])
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "run"
    killed = _kbert(args + ["--out", str(out)], kill_at=14)  # mid epoch 2; the step-12 checkpoint exists
    assert killed.returncode == -signal.SIGKILL
    from kbert.training import callbacks as cb

    assert cb.latest_checkpoint(out / "training" / "checkpoints")[0] == 12
    assert not (out / "kbert.json").exists()
    rerun = _kbert(args + ["--out", str(out)])
    assert rerun.returncode == 0, rerun.stderr
    assert not (out / "training").exists()  # the finished model directory replaced the resume state
    a, b = load_model_dir(tmp_path / "ref"), load_model_dir(out)
    for wa, wb in zip(a.model.weights, b.model.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-5, rtol=1e-4)
    with open(out / "distill_history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2", "3"]  # every epoch once


@pytest.mark.slow
def test_finetune_sigkill_resumes_at_the_interrupted_epoch(tmp_path):
    args = ["finetune", "--task", "classify", "--model", "bert_tiny", "--data", _data(tmp_path / "d.csv", n=50),
            "--epochs", "3", "--seq-len", "8", "--batch-size", "8", "--patience", "5"]
    out = tmp_path / "run"
    # 50 rows: 40 train -> 5 steps per epoch; killed in epoch 2 (index 1), after epoch 1's backup
    killed = _kbert(args + ["--out", str(out)], kill_at=7, hook="epoch_checkpoints")
    assert killed.returncode == -signal.SIGKILL
    assert (out / "training" / "backup").is_dir() and not (out / "kbert.json").exists()
    rerun = _kbert(args + ["--out", str(out)])
    assert rerun.returncode == 0, rerun.stderr
    with open(out / "history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1", "2"]  # epoch 0 kept, not redone
    md = load_model_dir(out)
    assert md.task == "classify" and md.labels == ["neg", "pos"]
