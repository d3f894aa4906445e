"""Fault tolerance for every kbert trainer: resumable checkpoints and a stop on NaN/Inf loss.

Two ways to make `model.fit` survive a killed process (SIGKILL, pre-emption, OOM):

1. Epoch-based trainers (fine-tuning): Keras' `BackupAndRestore`, which restores the model, the
   optimizer and the epoch counter at the next `fit` (an interrupted epoch is redone from its start):

       callbacks = fault_tolerance("runs/clf/backup")                       # doctest: +SKIP
       model.fit(ds, epochs=3, callbacks=callbacks)                          # doctest: +SKIP

2. Step-based trainers (pretraining, distillation): `StepCheckpoint` writes every `every_steps`
   optimizer steps the model's and optimizer's variables, by name (`kbert.training.checkpoints`,
   a `tf.train.CheckpointManager`; the last `keep` are kept), and
   `resume(model, dir)` restores the newest one and returns its global step, so the trainer skips the
   batches already seen. Run `fit` with `steps_per_epoch=every_steps` on a repeated dataset; a killed
   run loses at most `every_steps - 1` steps, and no step is applied twice:

       step = resume(model, "runs/pt/ckpt")                                  # 0 on a fresh start
       model.fit(dataset.skip(step), steps_per_epoch=100, epochs=total // 100,
                 initial_epoch=step // 100,
                 callbacks=fault_tolerance("runs/pt/ckpt", every_steps=100))  # doctest: +SKIP

Both lists start with `StopOnNonFiniteLoss`: a NaN or Inf loss raises `NonFiniteLossError` naming the
global step, before any later checkpoint is written, so the last good checkpoint stays intact
(`StepCheckpoint` also refuses to save non-finite weights).
"""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np

from kbert.atomic import atomic_file
from kbert.training import checkpoints


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or Inf loss."""


def _global_step(model) -> int:
    opt = getattr(model, "optimizer", None)
    return int(opt.iterations.numpy()) if opt is not None else 0


def _is_chief() -> bool:
    """True unless TF_CONFIG names this process a non-chief worker (only the chief writes checkpoints)."""
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    if not task:
        return True
    if "chief" in cfg.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training at the first NaN/Inf loss with an error naming the global step (and checkpoint dir)."""

    def __init__(self, checkpoint_dir: str | None = None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            step = _global_step(self.model)
            where = ""
            if self.checkpoint_dir:
                last = latest_checkpoint(self.checkpoint_dir)
                where = (f"; the last good checkpoint is {last[1]} (step {last[0]})" if last
                         else "; no checkpoint was written yet")
            self.model.stop_training = True
            raise NonFiniteLossError(
                f"training loss became {loss} at step {step} (batch {batch} of this epoch){where}. "
                "Lower the learning rate, add warm-up or gradient clipping, or check the data.")


def latest_checkpoint(directory) -> tuple[int, str] | None:
    """(global step, path) of the newest `StepCheckpoint` in `directory`, or None."""
    return checkpoints.latest(directory)


class StepCheckpoint(keras.callbacks.Callback):
    """Every `every_steps` optimizer steps, save model + optimizer variables to `directory/ckpt-STEP`.

    Args:
        directory: checkpoint folder (created).
        every_steps: checkpoint interval in optimizer steps (global, counted by `optimizer.iterations`).
        keep: how many newest checkpoints to keep.

    Variables are saved by name (`kbert.training.checkpoints`: a `tf.train.CheckpointManager`), and a
    checkpoint counts only once its state file names it, so a kill mid-write leaves the previous one
    usable. Non-finite weights are never saved. In multi-worker training only the chief writes.
    """

    def __init__(self, directory: str, every_steps: int = 100, keep: int = 2):
        super().__init__()
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1, got {every_steps}")
        self.directory = os.fspath(directory)
        self.every_steps = int(every_steps)
        self.keep = int(keep)

    def on_train_batch_end(self, batch, logs=None):
        step = _global_step(self.model)
        if step > 0 and step % self.every_steps == 0:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                return
            self.save(step)

    def save(self, step: int):
        if not _is_chief():
            return None
        for v in checkpoints.variables(self.model):
            if "float" in str(v.dtype) and not np.isfinite(np.asarray(v.numpy())).all():
                return None
        return checkpoints.save(self.model, self.directory, step, keep=self.keep)


def resume(model, directory) -> int:
    """Restore the newest `StepCheckpoint` in `directory` into a built, compiled `model`; return its step.

    Returns 0 (and changes nothing) when there is no checkpoint. Variables are matched by name; a
    checkpoint of another architecture or optimizer is refused naming the variables that differ.
    """
    return checkpoints.restore(model, directory)


class PersistentState(keras.callbacks.Callback):
    """Carry other callbacks' counters across a resumed `fit` (`BackupAndRestore` restores only the model).

    After each epoch the named attributes of the given callbacks (e.g. `EarlyStopping.wait/best`,
    `ModelCheckpoint.best`) are written to the JSON file `path`, keyed by epoch; when `fit` starts at
    epoch E (a resumed run), the state written after epoch E - 1 is put back before E begins. Place it
    after the callbacks it watches and before `BackupAndRestore`, so a kill between the two leaves
    state that matches the epoch the rerun restarts at.
    """

    def __init__(self, path: str, watched: dict):
        super().__init__()
        self.path = os.fspath(path)
        self.watched = dict(watched)  # name -> (callback, attribute names)
        self._started = False

    def _read(self) -> dict:
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def on_train_begin(self, logs=None):
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        state = self._read().get(str(epoch - 1)) if epoch > 0 else None
        for name, (callback, attrs) in self.watched.items():
            for attr, value in (state or {}).get(name, {}).items():
                if attr in attrs:
                    setattr(callback, attr, value)

    def on_epoch_end(self, epoch, logs=None):
        if not _is_chief():
            return
        record = {name: {a: _plain(getattr(cb, a)) for a in attrs if hasattr(cb, a)}
                  for name, (cb, attrs) in self.watched.items()}
        states = {k: v for k, v in self._read().items() if int(k) < epoch}
        states[str(epoch)] = record
        with atomic_file(self.path) as tmp, open(tmp, "w") as f:
            json.dump(states, f)


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    return float(value) if isinstance(value, float) else value  # json writes inf/nan as Infinity/NaN


def epoch_checkpoints(work: str, monitor: str = "val_loss", patience: int = 2) -> list:
    """Callbacks of a resumable epoch-based `fit` writing into the folder `work`.

    Stop on NaN/Inf; early stopping on `monitor`; the best weights in `work/best.weights.h5`; both
    callbacks' counters in `work/callback_state.json`; Keras `BackupAndRestore` in `work/backup`.
    A rerun after a kill resumes at the interrupted epoch with the best score and the patience
    counter it had, so a worse epoch after the resume never replaces the best weights. Load
    `work/best.weights.h5` after `fit` for the best epoch's weights.
    """
    # restore_best_weights stays off: its in-memory copy is lost in a kill (and, unset after a resume,
    # Keras takes the resumed epoch as the best); the caller loads work/best.weights.h5 instead
    stop = keras.callbacks.EarlyStopping(monitor, patience=int(patience))
    best = keras.callbacks.ModelCheckpoint(os.path.join(work, "best.weights.h5"), monitor, save_best_only=True,
                                           save_weights_only=True)
    state = PersistentState(os.path.join(work, "callback_state.json"),
                            {"early_stopping": (stop, ("wait", "best", "best_epoch")),
                             "best_weights": (best, ("best",))})
    first, backup = fault_tolerance(os.path.join(work, "backup"))
    return [first, stop, best, state, backup]


def fault_tolerance(directory: str, every_steps: int | None = None, keep: int = 2) -> list:
    """The callbacks every kbert trainer uses: stop on NaN/Inf, plus resumable checkpoints.

    `every_steps=None`: Keras `BackupAndRestore(directory)` (epoch granularity, restored by the next
    `fit` automatically). `every_steps=N`: `StepCheckpoint(directory, N)`; call `resume` before `fit`.
    """
    if every_steps:
        return [StopOnNonFiniteLoss(directory), StepCheckpoint(directory, every_steps, keep)]
    return [StopOnNonFiniteLoss(), keras.callbacks.BackupAndRestore(directory, save_freq="epoch",
                                                                    delete_checkpoint=True)]
