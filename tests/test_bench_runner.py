"""`kbert bench`: discovery, one subprocess per script, a failing script tolerated, RESULTS.md rebuilt."""

import argparse
import json
import os
import shutil

import pytest

from bench import report
from kbert.cli import bench as runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OK_SCRIPT = '''
import sys
from bench.common import note, target, write_result
NOTES = {"how": "side by side"}
quick = "--quick" in sys.argv
write_result("ok_script", {"model": {"torch_ms": 10.0, "kbert_ms": 8.5, "ratio": 0.85}, "quick_seen": quick,
                           "targets": {"kbert <= torch": target("kbert <= torch", 0.85, 1.0),
                                       "size": target("size", 120, 100)}},
             notes=[note("how")], quick=quick)
if __name__ == "__main__":
    pass
'''
BAD_SCRIPT = 'if __name__ == "__main__":\n    raise SystemExit("boom: this script fails")\n'


@pytest.fixture
def fake_bench(tmp_path, monkeypatch):
    d = tmp_path / "bench"
    d.mkdir()
    (d / "__init__.py").write_text("")
    shutil.copy(os.path.join(REPO, "bench", "common.py"), d / "common.py")
    shutil.copy(os.path.join(REPO, "bench", "report.py"), d / "report.py")
    (d / "ok_script.py").write_text(OK_SCRIPT)
    (d / "bad_script.py").write_text(BAD_SCRIPT)
    (d / "helper_data.py").write_text("VALUE = 1\n")  # a shared helper: no __main__, not a script
    readme = "# demo\n\n" + report.BEGIN + "\n" + report.END + "\n"
    (tmp_path / "README.md").write_text(readme)
    monkeypatch.setattr(runner, "BENCH_DIR", str(d))
    return d


def args(**kw):
    base = dict(names=["all"], quick=True, list=False, stale=False, report_only=False, timeout=120, quiet=False,
                json=False, debug=False)
    return argparse.Namespace(**{**base, **kw})


def test_discover_skips_helpers(fake_bench):
    assert runner.discover(str(fake_bench)) == ["bad_script", "ok_script"]


def test_discover_real_scripts_have_quick_mode():
    names = runner.discover()
    assert {"encoder_latency", "training_throughput", "memory"} <= set(names)
    assert not {"common", "report", "__init__"} & set(names)
    for name in names:
        with open(os.path.join(REPO, "bench", f"{name}.py")) as f:
            assert "--quick" in f.read(), f"bench/{name}.py has no --quick mode"


def test_all_runs_every_script_tolerates_failure_and_writes_report(fake_bench, capsys):
    code = runner.run(args())
    out, err = capsys.readouterr()
    assert code == 1
    assert "[1/2] bad_script: FAILED" in out and "[2/2] ok_script: ok" in out
    assert "boom: this script fails" in err
    assert not (fake_bench / "results" / "ok_script.json").exists()  # quick results live apart
    record = json.loads((fake_bench / "results" / "quick" / "ok_script.json").read_text())
    assert record["figures"]["quick_seen"] is True and record["quick"] is True
    md = (fake_bench / "RESULTS.md").read_text()
    assert "## ok_script (quick)" in md and "| model.torch_ms | 10.00 |" in md
    assert "| kbert <= torch | 0.85 | – | 1.00 | ✅ met |" in md and "| size | 120.00 | – | 100 | ❌ missed |" in md
    assert "1/2 ❌" in md and "![ok_script](results/quick/ok_script.png)" in md
    assert (fake_bench / "results" / "quick" / "ok_script.png").stat().st_size > 1000
    readme = (fake_bench.parent / "README.md").read_text()
    assert "| [`ok_script`](bench/RESULTS.md#ok_script-quick) | size | 120.00 | <= 100 | missed | quick, " in readme


def test_quick_run_keeps_the_full_result(fake_bench):
    assert runner.run(args(names=["ok_script"], quick=False)) == 0
    full = (fake_bench / "results" / "ok_script.json").read_text()
    assert json.loads(full)["quick"] is False
    assert runner.run(args(names=["ok_script"], quick=True)) == 0
    assert (fake_bench / "results" / "ok_script.json").read_text() == full
    md = (fake_bench / "RESULTS.md").read_text()
    assert "| [ok_script](#ok_script) |" in md and "| full | current |" in md


def test_list_shows_result_states_and_stale_runs_only_what_is_left(fake_bench, capsys):
    assert runner.run(args(names=["ok_script"], quick=False)) == 0
    capsys.readouterr()
    assert runner.run(args(list=True)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["bad_script  full: missing  quick: missing", "ok_script   full: ok       quick: missing"]
    assert runner.run(args(stale=True, quick=False)) == 1  # only bad_script is left, and it fails
    out = capsys.readouterr().out
    assert "1 script(s) left to run: bad_script" in out and "[1/1] bad_script: FAILED" in out and "ok_script:" not in out
    (fake_bench / "ok_script.py").write_text(OK_SCRIPT.replace("side by side", "side by side, interleaved"))
    assert runner.run(args(names=["ok_script"], stale=True, quick=False)) == 0  # its script changed: stale
    out = capsys.readouterr().out
    assert "1 script(s) left to run: ok_script" in out and "[1/1] ok_script: ok" in out
    assert runner.run(args(names=["ok_script"], stale=True, quick=False)) == 0
    assert "0 script(s) left to run: none" in capsys.readouterr().out


def test_unknown_name_is_input_error(fake_bench):
    from kbert.errors import KbertInputError

    with pytest.raises(KbertInputError, match="unknown bench script.*nope.*available: bad_script, ok_script"):
        runner.run(args(names=["nope"]))


def test_report_survives_unreadable_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "broken.json").write_text("{not json")
    (results / "nested.json").write_text(json.dumps({"name": "nested", "date": "2026-01-01", "figures": {  # legacy
        "a": {"b": {"x_ms": 1.5, "y_ms": 2500.0}}, "n": 3, "flag": True}, "notes": "n | pipe"}))
    path = report.generate(str(results))
    md = open(path).read()
    assert "## broken" in md and "unreadable" in md
    assert "| a.b.y_ms | 2,500 |" in md and "| a.b.x_ms | 1.50 |" in md and "| flag | yes |" in md
    assert (results / "nested.png").exists()


def test_cli_lists_bench_scripts():
    from kbert.cli import main

    assert main(["bench", "--list"]) == 0
