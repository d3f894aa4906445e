"""Concurrent `export serving` into one model base: each export gets its own version (or a clear refusal),
and no existing version is ever replaced without overwrite. The archive build is replaced by a slow fake,
so the test exercises only version taking and publishing (the real export is tested in test_export_serving)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kbert.errors import KbertInputError
from kbert.export import serving


class _SlowArchive:
    def __init__(self, tag, started):
        self.tag, self.started = tag, started

    def write_out(self, path, verbose=False):
        self.started.set()
        time.sleep(0.4)  # the other export runs meanwhile
        with open(os.path.join(path, "saved_model.pb"), "w") as f:
            f.write(self.tag)


@pytest.fixture
def fake_build(monkeypatch):
    from kbert.model_dir import ModelDir

    started = threading.Event()
    monkeypatch.setattr(serving, "build_archive", lambda md, **k: _SlowArchive(md.path, started))
    return (lambda tag: ModelDir(None, None, {"task": "embed", "seq_len": 8}, tag)), started


def _concurrently(*calls):
    results = [None] * len(calls)

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    return results


def test_two_concurrent_exports_get_two_versions(tmp_path, fake_build):
    md, _ = fake_build
    base = tmp_path / "base"
    a, b = _concurrently(lambda: serving.export_serving(md("A"), base, warmup=False),
                         lambda: serving.export_serving(md("B"), base, warmup=False))
    assert sorted([a, b]) == [str(base / "1"), str(base / "2")]
    assert {(base / "1" / "saved_model.pb").read_text(), (base / "2" / "saved_model.pb").read_text()} == {"A", "B"}
    assert sorted(os.listdir(base)) == ["1", "2"]  # no lock or temporary left


def test_same_explicit_version_concurrently_one_clear_refusal(tmp_path, fake_build):
    md, _ = fake_build
    base = tmp_path / "base"
    a, b = _concurrently(lambda: serving.export_serving(md("A"), base, version=3, warmup=False),
                         lambda: serving.export_serving(md("B"), base, version=3, warmup=False))
    assert a == str(base / "3") and isinstance(b, KbertInputError)
    assert "another process is exporting version 3" in str(b)
    assert (base / "3" / "saved_model.pb").read_text() == "A"
    # even with --overwrite, a concurrent export of the same version is refused, not interleaved
    a, b = _concurrently(lambda: serving.export_serving(md("C"), base, version=3, overwrite=True, warmup=False),
                         lambda: serving.export_serving(md("D"), base, version=3, overwrite=True, warmup=False))
    assert a == str(base / "3") and isinstance(b, KbertInputError)
    assert (base / "3" / "saved_model.pb").read_text() == "C"


def test_a_version_appearing_during_the_export_is_not_replaced(tmp_path, fake_build, monkeypatch):
    md, _ = fake_build
    base = tmp_path / "base"
    base.mkdir()

    class Intruder(_SlowArchive):  # someone (not kbert) writes version 1 while the export builds it
        def write_out(self, path, verbose=False):
            (base / "1").mkdir()
            (base / "1" / "saved_model.pb").write_text("theirs")
            super().write_out(path)

    monkeypatch.setattr(serving, "build_archive", lambda md, **k: Intruder("mine", threading.Event()))
    with pytest.raises(KbertInputError, match="appeared during the export .* kept"):
        serving.export_serving(md("X"), base, version=1, warmup=False)
    assert (base / "1" / "saved_model.pb").read_text() == "theirs" and sorted(os.listdir(base)) == ["1"]


def test_a_killed_exporter_holds_nothing(tmp_path, fake_build):
    md, _ = fake_build
    base = tmp_path / "base"
    base.mkdir()
    (base / ".tmp-1-abc").mkdir()  # what a SIGKILLed export of version 1 left
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from kbert.export.serving import reserve_version
        v, lock = reserve_version({str(base)!r}, 1)
        print(v, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert holder.stdout.readline().strip() == "1"
        assert not (base / ".tmp-1-abc").exists()  # cleaned by the exporter that took version 1
        with pytest.raises(KbertInputError, match="another process is exporting version 1"):
            serving.export_serving(md("A"), base, version=1, warmup=False)
        assert serving.export_serving(md("B"), base, warmup=False) == str(base / "2")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert serving.export_serving(md("C"), base, version=1, warmup=False) == str(base / "1")
    assert sorted(os.listdir(base)) == ["1", "2"]
