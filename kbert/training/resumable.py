"""`model.fit` over in-memory arrays for a number of epochs, resumable step-exactly after a kill.

The examples are shuffled in an order drawn from `seed` (the same in every run), step
checkpoints are written every `every_steps` optimizer steps (`kbert.training.callbacks.StepCheckpoint`,
variables by name), and a rerun restores the newest one, skips the batches already trained on and
finishes the interrupted epoch before going on. So a run killed at any point and rerun ends with the
weights of an uninterrupted run (up to float round-off). One CSV row per epoch (train and validation
metrics) is kept in `directory/history.csv` across reruns.

    history = fit_resumable(distiller, x_train, y_train, batch_size=32, epochs=3,
                            directory="runs/student/training", validation_data=(x_test, y_test))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
import os

import keras
import numpy as np

from kbert.atomic import atomic_file
from kbert.training import callbacks as cb

HISTORY_FILE = "history.csv"


def fit_resumable(model, x, y, *, batch_size: int, epochs: int, directory: str, validation_data=None,
                  every_steps: int = 100, seed: int = 0, verbose: int = 1, keep: int = 2) -> dict:
    """Train compiled `model` on `(x, y)` (dicts or arrays of equal length); return {metric: [per epoch]}.

    Checkpoints go to `directory/checkpoints`; the history to `directory/history.csv`. Rerunning with
    the same arguments after a kill resumes where the newest checkpoint left off.
    """
    import tensorflow as tf

    n = len(next(iter(x.values())) if isinstance(x, dict) else x)
    batch_size, epochs = int(batch_size), int(epochs)
    per_epoch = math.ceil(n / batch_size)
    every = max(1, min(int(every_steps), per_epoch))
    # Every epoch's order is drawn up front from `seed`: a stateful tf.data shuffle gives each new
    # iterator another order, so a resumed run (a new iterator) would not see the batches it skipped to.
    rng = np.random.default_rng(int(seed))
    orders = np.stack([rng.permutation(n) for _ in range(epochs)])
    tensors = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
    data = (tf.data.Dataset.from_tensor_slices(orders)
            .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
            .map(lambda index: tf.nest.map_structure(lambda t: tf.gather(t, index), tensors)))
    ckpt_dir = os.path.join(directory, "checkpoints")
    start = cb.resume(model, ckpt_dir)
    history_csv = os.path.join(directory, HISTORY_FILE)
    _keep_rows(history_csv, before_epoch=start // per_epoch)
    callbacks = cb.fault_tolerance(ckpt_dir, every_steps=every, keep=keep) + [_EpochLog(history_csv)]
    epoch, done = divmod(start, per_epoch)
    fit = dict(validation_data=validation_data, callbacks=callbacks, verbose=verbose, shuffle=False)
    if epoch < epochs and done:  # finish the interrupted epoch: its remaining batches only
        model.fit(data.skip(start), steps_per_epoch=per_epoch - done, epochs=epoch + 1, initial_epoch=epoch,
                  **fit)
        epoch += 1
    if epoch < epochs:
        model.fit(data.skip(epoch * per_epoch), steps_per_epoch=per_epoch, epochs=epochs, initial_epoch=epoch,
                  **fit)
    last = cb.latest_checkpoint(ckpt_dir)
    if last is None or last[0] < epochs * per_epoch:  # a kill before the model is saved loses nothing
        callbacks[1].save(epochs * per_epoch)
    return read_history(history_csv)


class _EpochLog(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        new = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)


def _keep_rows(path, before_epoch: int):
    """Drop history rows of epochs a resumed run redoes (written after the checkpoint it resumes from)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    fields = list(rows[0])
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(r for r in rows if int(r["epoch"]) < before_epoch)


def read_history(path) -> dict:
    """{metric: [value per epoch]} from a history CSV (empty when it does not exist)."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {}) if k != "epoch"}
