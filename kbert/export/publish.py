"""Publishing an exported file together with its companions (a `.tflite` and its model card), so
that a reader never sees a new model beside a card that describes the old one.

    >>> from kbert.export.publish import publish
    >>> publish("out/clf.tflite", content, {"out/clf.json": card_json, "out/clf.md": card_md})  # doctest: +SKIP

1. Every file is written complete (fsync) into a hidden staging folder next to the target,
   `.kbert-publish-PID-RANDOM/`, with a `MANIFEST.json` (targets and sha256) written last.
2. The old companions are removed, the primary file is renamed into place, then each companion.
   A kill at any point leaves either the old pair, the old model without a card, the new model
   without a card, or the new pair; never a mismatched pair.
3. The next publish into the same folder finishes what a killed run left (a staging folder whose
   process is gone and whose primary already moved is rolled forward) or deletes it, and removes
   hidden temp files of killed `atomic_write` calls for its own targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from kbert.atomic import atomic_file

STAGING_PREFIX = ".kbert-publish-"
MANIFEST = "MANIFEST.json"


def _fsync_write(path: str, data: bytes | str) -> None:
    with open(path, "wb" if isinstance(data, (bytes, bytearray)) else "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: str, data: bytes | str) -> str:
    """Write `data` to `path` through a temp file in the same folder and a rename."""
    with atomic_file(path) as tmp:
        _fsync_write(tmp, data)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sha(data) -> str:
    return hashlib.sha256(data if isinstance(data, (bytes, bytearray)) else data.encode()).hexdigest()


def _file_sha(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(folder: str, targets=()) -> list[str]:
    """Finish or remove what killed publishes left in `folder`; returns what was done (for logs)."""
    done = []
    try:
        names = os.listdir(folder)
    except OSError:
        return done
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(STAGING_PREFIX) and os.path.isdir(path):
            try:
                pid = int(name[len(STAGING_PREFIX):].split("-", 1)[0])
            except ValueError:
                continue
            if _alive(pid):
                continue
            done.append(_roll_forward(folder, path))
    for target in targets:  # temp files of killed atomic_write calls for our own targets
        base = "." + os.path.basename(target) + "."
        for name in names:
            if name.startswith(base) and name.endswith(".tmp"):
                try:
                    os.remove(os.path.join(folder, name))
                    done.append(f"removed {name}")
                except OSError:
                    pass
    return done


def _roll_forward(folder: str, staging: str) -> str:
    try:
        with open(os.path.join(staging, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        shutil.rmtree(staging, ignore_errors=True)
        return f"removed incomplete {os.path.basename(staging)}"
    primary = manifest["order"][0]
    moved = not os.path.exists(os.path.join(staging, primary))
    if moved and _file_sha(os.path.join(folder, primary)) == manifest["sha256"][primary]:
        for name in manifest["order"][1:]:
            src = os.path.join(staging, name)
            if os.path.exists(src):
                os.replace(src, os.path.join(folder, name))
        shutil.rmtree(staging, ignore_errors=True)
        return f"completed the publish of {primary} left by a killed run"
    shutil.rmtree(staging, ignore_errors=True)
    return f"removed the unpublished {primary} left by a killed run"


def publish(primary: str, content: bytes | str, companions: dict | None = None) -> str:
    """Publish `primary` and its `companions` ({path: data}, same folder) as one consistent set."""
    primary = os.fspath(primary)
    companions = {os.fspath(k): v for k, v in (companions or {}).items()}
    folder = os.path.dirname(os.path.abspath(primary))
    for path in companions:
        if os.path.dirname(os.path.abspath(path)) != folder:
            raise ValueError(f"{path} is not in the folder of {primary}")
    os.makedirs(folder, exist_ok=True)
    recover(folder, [primary, *companions])
    staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder)
    order = [os.path.basename(primary), *(os.path.basename(p) for p in companions)]
    try:
        mode = 0o666 & ~_umask()
        for name, data in zip(order, [content, *companions.values()]):
            _fsync_write(os.path.join(staging, name), data)
            os.chmod(os.path.join(staging, name), mode)
        _fsync_write(os.path.join(staging, MANIFEST),
                     json.dumps({"order": order, "sha256": {n: _sha(d) for n, d in
                                                            zip(order, [content, *companions.values()])}}))
        for path in companions:  # the old card goes first: never a new model beside an old card
            if os.path.exists(path):
                os.remove(path)
        for name in order:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
    except BaseException:
        if os.path.exists(os.path.join(staging, order[0])):  # nothing published yet: drop it all
            shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return primary
