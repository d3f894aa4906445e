"""Step checkpoints of a training run: every variable of a model and its optimizer, saved by name.

A checkpoint is a `tf.train.Checkpoint` over a dictionary that maps each variable's Keras path
(`bert_backbone/transformer_layer_0/.../kernel`, `adamw/..._momentum`, seed-generator states, the
optimizer's `iteration`) to the variable, written by a `tf.train.CheckpointManager` as
`DIR/ckpt-STEP.{index,data-*}` plus its `DIR/checkpoint` state file. Restoring matches variables by
those names, so a model whose variables are listed in another order still resumes; a model that
lacks some of them, or has others, is refused with the names. Keras numbers repeated layer names
per process (`seed_generator_3`), so the names match when the model is built the same way in a
fresh process (a rerun of the same command); to rebuild and resume in one Python session, call
`keras.backend.clear_session()` before building.

    >>> import keras, tempfile
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> d = tempfile.mkdtemp()
    >>> path = save(model, d, step=5)
    >>> os.path.basename(path), latest(d)[0], restore(model, d)
    ('ckpt-5', 5, 5)

Old kbert versions wrote `ckpt-STEP.npz` files restored by position; `restore` resumes from such a
file once (warning that it does) when no named checkpoint exists, and `save` deletes them once a
named checkpoint is written.
"""

from __future__ import annotations

import glob
import os
import re
import warnings

from kbert.errors import KbertInputError

PREFIX = "ckpt"


def variables(model) -> list:
    """Everything a resumed run needs: model variables (weights, RNG seed states) and optimizer variables."""
    found = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        found += list(optimizer.variables)
    return found


def named(model) -> dict:
    """{name: variable}: each model variable's Keras path; `optimizer/NAME` for the optimizer's (its own
    name left out, which Keras numbers per instance); a repeated path gets `#2`, `#3`, ... in order."""
    found = variables(model)  # builds the optimizer first
    optimizer = getattr(model, "optimizer", None)
    prefix = f"{optimizer.name}/" if optimizer is not None else None
    own = {id(v) for v in optimizer.variables} if optimizer is not None else set()
    out, seen = {}, set()
    for v in found:
        if id(v) in seen:
            continue
        seen.add(id(v))
        key = v.path
        if id(v) in own:
            key = "optimizer/" + (key[len(prefix):] if key.startswith(prefix) else key)
        name, n = key, 1
        while name in out:
            n += 1
            name = f"{key}#{n}"
        out[name] = v
    return out


def _manager(model, directory, keep=2):
    import tensorflow as tf

    ckpt = tf.train.Checkpoint(variables=named(model))
    return ckpt, tf.train.CheckpointManager(ckpt, os.fspath(directory), max_to_keep=int(keep), checkpoint_name=PREFIX)


def save(model, directory, step: int, keep: int = 2) -> str:
    """Write checkpoint `step` of `model` (and its optimizer) into `directory`; keep the newest `keep`."""
    _, manager = _manager(model, directory, keep)
    path = manager.save(checkpoint_number=int(step))
    for _, old in _legacy(directory):  # superseded by a named checkpoint
        os.remove(old)
    return path


def latest(directory) -> tuple[int, str] | None:
    """(step, path) of the newest checkpoint in `directory` (named, else an old `.npz`), or None."""
    import tensorflow as tf

    directory = os.fspath(directory)
    if os.path.isdir(directory):
        path = tf.train.latest_checkpoint(directory)
        if path:
            return int(path.rsplit("-", 1)[1]), path
    old = _legacy(directory)
    return max(old) if old else None


def restore(model, directory) -> int:
    """Restore the newest checkpoint in `directory` into a built, compiled `model`; return its step.

    Returns 0 (and changes nothing) when there is none. Raises `KbertInputError` naming the
    variables that differ when the checkpoint was written by another model or optimizer.
    """
    last = latest(directory)
    if last is None:
        return 0
    step, path = last
    if path.endswith(".npz"):
        _restore_legacy(model, path)
        return step
    import tensorflow as tf

    shapes = {_unescape(k.split("/")[1]): tuple(s) for k, s in tf.train.list_variables(path)
              if k.startswith("variables/") and k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}
    wanted = named(model)
    missing, extra = sorted(set(wanted) - set(shapes)), sorted(set(shapes) - set(wanted))
    wrong = [f"{n} {shapes[n]} vs {tuple(v.shape)}" for n, v in wanted.items() if n in shapes
             and shapes[n] != tuple(v.shape)]
    if missing or extra or wrong:
        raise KbertInputError(
            f"{path} was written by another model or optimizer: "
            + "; ".join(f"{what}: {names[:4]}{' ...' if len(names) > 4 else ''} ({len(names)})" for what, names in
                        (("variables it lacks", missing), ("variables the model lacks", extra),
                         ("shapes differ", wrong)) if names)
            + f". Use a new output folder, or delete {os.path.dirname(path)} to start over")
    tf.train.Checkpoint(variables=wanted).restore(path).assert_existing_objects_matched()
    return step


def _unescape(name: str) -> str:  # tf.train.Checkpoint escapes "/" as ".S" and "." as ".."
    return re.sub(r"\.(.)", lambda m: "/" if m.group(1) == "S" else m.group(1), name)


def _legacy(directory) -> list[tuple[int, str]]:
    out = []
    for path in glob.glob(os.path.join(os.fspath(directory), f"{PREFIX}-*.npz")):
        m = re.search(r"ckpt-(\d+)\.npz$", path)
        if m:
            out.append((int(m.group(1)), path))
    return out


def _restore_legacy(model, path):
    """An old positional `.npz` checkpoint: resumed once, by position, with a warning."""
    import numpy as np

    warnings.warn(f"{path} is an old kbert checkpoint (variables stored by position); resuming from it once. "
                  "New checkpoints store variables by name; the old file is deleted after the next one.",
                  stacklevel=3)
    found = variables(model)
    with np.load(path) as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(found):
        raise KbertInputError(f"{path} holds {len(values)} variables but the model has {len(found)}: not the same "
                              f"model/optimizer. Delete {os.path.dirname(path)} to start over")
    for var, value in zip(found, values):
        if tuple(var.shape) != value.shape:
            raise KbertInputError(f"{path}: variable {var.path} has shape {tuple(var.shape)}, checkpoint "
                                  f"{value.shape}. Delete {os.path.dirname(path)} to start over")
        var.assign(value)
