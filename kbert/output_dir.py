"""Which output folders kbert may write over: a command's `--out` is replaced wholesale only when it
is a kbert model directory (or the resume state of an interrupted kbert run), never a user's folder.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> check_output_dir(os.path.join(d, "new"))                  # absent: fine
    >>> open(os.path.join(d, "notes.txt"), "w").close()
    >>> check_output_dir(d)                                       # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kbert.errors.KbertInputError: --out ...: not a kbert model directory (it holds notes.txt); ...

Pure Python (no TensorFlow), so the CLI checks `--out` before anything is built or trained.
"""

from __future__ import annotations

import os

from kbert.errors import KbertInputError

META_FILE = "kbert.json"  # kbert.model_dir.META_FILE (that module imports TensorFlow)

# Every name kbert itself writes into a model directory: save_model_dir (model, metadata, tokenizer
# files), the fine-tuning and distillation reports, and the resume state of an interrupted run.
KBERT_FILES = frozenset({
    "model.keras", META_FILE, "vocab.txt", "spiece.model", "tokenizer_config.json",
    "metrics.json", "history.csv", "training_curves.png", "confusion_matrix.png",
    "distill_report.json", "distill_history.csv", "distill_curves.png",
})
STATE_DIRS = frozenset({"training"})  # OUT/training: checkpoints of an interrupted fine-tune / distill
HIDDEN_PREFIXES = (".tmp-", ".old-")   # kbert.atomic's temporary names, left behind by a killed run


def foreign_entries(path: str) -> list[str]:
    """Entries of the folder `path` that kbert did not write (sorted)."""
    meta_files = set()
    meta = os.path.join(path, META_FILE)
    if os.path.isfile(meta):
        import json

        try:
            with open(meta) as f:
                meta_files = set(json.load(f).get("tokenizer_files") or [])
        except (OSError, ValueError, AttributeError):
            pass
    out = []
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if name.startswith(HIDDEN_PREFIXES):
            continue
        if name in STATE_DIRS and os.path.isdir(full) and not os.path.islink(full):
            continue
        if (name in KBERT_FILES or name in meta_files) and os.path.isfile(full) and not os.path.islink(full):
            continue
        out.append(name)
    return sorted(out)


def check_output_dir(path, flag: str = "--out") -> None:
    """Raise `KbertInputError` unless `path` may become (or be replaced by) a kbert model directory.

    Allowed: a path that does not exist (its nearest existing parent must be writable), an empty
    folder, a kbert model directory, or the folder an interrupted kbert run left (its `training/`
    state only). Refused: a file, the current folder or one above it, a folder holding anything
    kbert did not write (a user's data, notes, subfolders), and a folder that cannot be written.
    """
    path = os.fspath(path)
    where = f"{flag} {path}".strip()
    real = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    if real == cwd or cwd.startswith(real.rstrip(os.sep) + os.sep) or real == os.sep:
        raise KbertInputError(f"{where}: is the current folder or one above it; kbert replaces it "
                              "with the finished model directory, so name a new folder (e.g. runs/NAME)")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise KbertInputError(f"{where}: exists and is not a folder")
    if os.path.isdir(path):
        foreign = foreign_entries(path)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            kind = "a kbert model directory with other files in it" if os.path.isfile(
                os.path.join(path, META_FILE)) else "not a kbert model directory"
            raise KbertInputError(f"{where}: {kind} (it holds {shown}); kbert replaces it as a whole, "
                                  "so move those files away or name a new folder")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise KbertInputError(f"{where}: {parent} exists and is not a folder")
        parent = os.path.dirname(parent)
    for folder in ([path] if os.path.isdir(path) else []) + [parent]:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise KbertInputError(f"{where}: {folder} is not writable")
