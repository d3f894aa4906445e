"""A .tflite and its card are published together; what killed runs leave is finished or removed."""

import json
import os
import subprocess
import sys

import pytest

from kbert.export import publish


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _pair(tmp_path, tag):
    out = tmp_path / "clf.tflite"
    return str(out), f"model {tag}".encode(), {str(tmp_path / "clf.json"): json.dumps({"model": tag}),
                                                str(tmp_path / "clf.md"): f"card of {tag}"}


def _state(tmp_path):
    files = {n: (tmp_path / n).read_bytes().decode() for n in sorted(os.listdir(tmp_path)) if not n.startswith(".")}
    hidden = [n for n in os.listdir(tmp_path) if n.startswith(".")]
    return files, hidden


def test_publish_writes_the_set(tmp_path):
    publish.publish(*_pair(tmp_path, "A"))
    files, hidden = _state(tmp_path)
    assert files == {"clf.json": '{"model": "A"}', "clf.md": "card of A", "clf.tflite": "model A"} and not hidden


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_interrupted_publish_never_pairs_a_new_model_with_an_old_card(tmp_path, monkeypatch, fail_at):
    publish.publish(*_pair(tmp_path, "old"))
    real_replace, calls = os.replace, []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt  # the process dies between renames
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        publish.publish(*_pair(tmp_path, "new"))
    monkeypatch.undo()
    files, _ = _state(tmp_path)
    model = files.get("clf.tflite", "").split()[-1]
    for card in ("clf.json", "clf.md"):
        if card in files:
            assert model in files[card], files  # a card present always describes the model present
    assert fail_at > 1 or model == "old"


def test_next_run_rolls_forward_a_killed_publish(tmp_path):
    """A run killed after moving the new model but before its card: the next publish into the
    folder (any file) completes the killed one's card from its staging folder."""
    staging = tmp_path / f"{publish.STAGING_PREFIX}{_dead_pid()}-abc"
    staging.mkdir()
    (tmp_path / "clf.tflite").write_bytes(b"model new")
    (staging / "clf.json").write_text('{"model": "new"}')
    (staging / "clf.md").write_text("card of new")
    import hashlib

    (staging / publish.MANIFEST).write_text(json.dumps({
        "order": ["clf.tflite", "clf.json", "clf.md"],
        "sha256": {"clf.tflite": hashlib.sha256(b"model new").hexdigest()}}))
    (tmp_path / ".clf.tflite.x1y2.tmp").write_bytes(b"half")  # an atomic_write killed mid-way
    publish.publish(str(tmp_path / "other.tflite"), b"other", {})
    files, hidden = _state(tmp_path)
    assert files["clf.json"] == '{"model": "new"}' and files["clf.md"] == "card of new"
    assert hidden == [".clf.tflite.x1y2.tmp"]  # not ours: left for a publish of clf.tflite
    publish.publish(*_pair(tmp_path, "B"))
    assert _state(tmp_path)[1] == []


def test_unfinished_staging_of_a_dead_run_is_removed_and_a_live_one_kept(tmp_path):
    dead = tmp_path / f"{publish.STAGING_PREFIX}{_dead_pid()}-abc"
    dead.mkdir()
    (dead / "clf.tflite").write_bytes(b"never published")  # no manifest: killed while writing
    live = tmp_path / f"{publish.STAGING_PREFIX}{os.getppid()}-def"
    live.mkdir()
    publish.publish(*_pair(tmp_path, "A"))
    assert not dead.exists() and live.exists()
    assert (tmp_path / "clf.tflite").read_bytes() == b"model A"
