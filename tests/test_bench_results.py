"""Committed bench results: provenance checked, quick apart from full, README's table generated, no drift.

Legacy results (written before results recorded provenance) are reported as "re-run needed" in
RESULTS.md, not failures; a result WITH provenance fails here when its script changed since it ran
(sha256) or its notes are not what the script's templates render.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench import common, report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "results")

SCRIPT = '''
import sys
from bench.common import note, target, write_result

NOTES = {"setup": "batch {batch}, {n} test tweets."}


def child():  # code only a child process runs: its bench import still counts as a helper
    from bench import childhelper  # noqa: F401

quick = "--quick" in sys.argv
figures = {"x_ms": 3.0, "targets": {"fast": target("fast", 0.8, 1.0, interval={"lo": 0.7, "hi": 0.9, "rounds": 5}),
                                    "slow": target("slow", 1.3, 1.0)}}
write_result("demo", figures, notes=[note("setup", batch=32, n=100)], quick=quick, datasets={"test_tweets": 100})
if __name__ == "__main__":
    pass
'''


def committed_records():
    return [r for r in report.load(RESULTS)]


@pytest.mark.parametrize("record", committed_records(), ids=lambda r: r.get("_file", r["name"]))
def test_committed_result_is_current_or_legacy(record):
    """A result with provenance must come from the current script with template-rendered notes."""
    assert record["_status"] in ("ok", "legacy"), f"{record['_file']}: {'; '.join(record['_reasons'])}"


def test_legacy_and_stale_results_are_listed_as_left_to_rerun():
    md = open(os.path.join(REPO, "bench", "RESULTS.md"), encoding="utf-8").read()
    left = md.split("### Left to re-run", 1)[1].split("\n## ", 1)[0]
    for r in committed_records():
        if r["_status"] != "ok":
            assert f"`{r['_file']}`" in left, f"{r['_file']} ({r['_status']}) missing from RESULTS.md's re-run list"


def test_readme_measured_table_matches_the_results():
    readme = os.path.join(REPO, "README.md")
    assert not report.readme_drift(readme, RESULTS), \
        "README's measured table differs from bench/results: run `kbert bench --report-only`"


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory):
    """A throwaway repo: bench/common.py + a demo script, run once in full and once quick."""
    tmp_path = tmp_path_factory.mktemp("demo")
    d = tmp_path / "bench"
    d.mkdir()
    (d / "__init__.py").write_text("")
    for f in ("common.py", "report.py"):
        shutil.copy(os.path.join(REPO, "bench", f), d / f)
    (d / "demo.py").write_text(SCRIPT)
    (d / "childhelper.py").write_text("SETTLE_S = 1.0\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "bench.demo", *a], cwd=tmp_path, env=env,  # noqa: E731
                                    check=True, capture_output=True)
    run()
    full = json.loads((d / "results" / "demo.json").read_text())
    run("--quick")
    return tmp_path, d, full


@pytest.fixture
def demo(demo_once, tmp_path):
    """A private copy of the demo repo (tests edit its script and results)."""
    root, _, full = demo_once
    shutil.copytree(root, tmp_path / "repo")
    return tmp_path / "repo", tmp_path / "repo" / "bench", full


def test_record_has_provenance_and_rendered_notes(demo):
    root, d, full = demo
    prov = full["provenance"]
    assert prov["script"] == os.path.join("bench", "demo.py") and prov["argv"] == []
    assert prov["script_sha256"] == common.sha256(str(d / "demo.py"))
    assert len(prov["loadavg_before"]) == 3 and len(prov["loadavg_after"]) == 3
    assert set(common.CPU_FLAGS) == set(prov["cpu_flags"]) and "env" in prov["threads"]
    assert full["datasets"] == {"test_tweets": 100} and full["quick"] is False
    assert full["notes"].startswith("batch 32, 100 test tweets. Load average ")
    t = full["figures"]["targets"]
    assert t["fast"]["met"] is True and "upper end 0.9 <= 1" in t["fast"]["note"]
    assert t["slow"]["met"] is False and "off by 30.0%" in t["slow"]["note"] and t["slow"]["note"] in full["notes"]
    assert common.status(full, str(root)) == ("ok", [])


def test_quick_run_never_replaces_the_full_result(demo):
    root, d, full = demo
    assert json.loads((d / "results" / "demo.json").read_text()) == full  # untouched by the quick run
    quick = json.loads((d / "results" / "quick" / "demo.json").read_text())
    assert quick["quick"] is True and quick["provenance"]["argv"] == ["--quick"] and "Quick mode" in quick["notes"]
    records = report.load(str(d / "results"))
    assert [r["_file"] for r in report.shown(records)] == ["demo.json"]
    md = open(report.generate(str(d / "results"))).read()
    assert "| [demo](#demo) |" in md and "full | current | 1/2 ❌ |" in md
    assert "# Older or quick results shadowed by the ones above" in md and "## demo (quick)" in md
    (d / "results" / "demo.json").unlink()  # no full one: the quick one is shown, marked
    assert [r["_file"] for r in report.shown(report.load(str(d / "results")))] == ["quick/demo.json"]


def test_changed_script_makes_its_result_stale(demo):
    root, d, full = demo
    (d / "demo.py").write_text(SCRIPT.replace("batch {batch}", "batch size {batch}"))
    status, reasons = common.status(full, str(root))
    assert status == "stale" and "sha256 mismatch" in reasons[0]


def test_changed_helper_module_makes_its_result_stale(demo):
    root, d, full = demo
    assert full["provenance"]["helpers"]["bench/common.py"] == common.sha256(str(d / "common.py"))
    assert "bench/demo.py" not in full["provenance"]["helpers"]
    assert full["provenance"]["helpers"]["bench/childhelper.py"] == common.sha256(str(d / "childhelper.py"))
    with open(d / "common.py", "a") as f:
        f.write("\n# a change that could alter how figures are measured\n")
    status, reasons = common.status(full, str(root))
    assert status == "stale" and "bench/common.py, which bench/demo.py imported" in reasons[0]


def test_dirty_flag_ignores_what_kbert_bench_rewrites(demo):
    root, d, full = demo
    git = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)  # noqa: E731
    (root / "README.md").write_text("table\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "demo")
    probe = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", "import bench.common as c; print(repr(c.tree_status()))"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, check=True, capture_output=True, text=True).stdout.strip()
    (root / "README.md").write_text("table, regenerated\n")
    (d / "results" / "demo.json").write_text("{}")
    assert probe() == "''"
    (d / "demo.py").write_text(SCRIPT + "\n# edited\n")
    assert "bench/demo.py" in probe()


def test_hand_edited_notes_or_verdict_are_flagged(demo):
    root, d, full = demo
    edited = json.loads(json.dumps(full))
    edited["notes"] = edited["notes"].replace("Load average", "This run was on an idle machine. Load average")
    assert common.status(edited, str(root))[0] == "bad"
    edited = json.loads(json.dumps(full))
    edited["figures"]["targets"]["slow"]["met"] = True
    status, reasons = common.status(edited, str(root))
    assert status == "bad" and "'slow'" in reasons[0]
    edited = json.loads(json.dumps(full))
    edited["notes_parts"][0]["template"] = "no_such_template"
    assert common.status(edited, str(root))[0] == "bad"


def test_legacy_record_is_classified_not_failed(tmp_path):
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    (results / "old.json").write_text(json.dumps({"name": "old", "date": "2026-01-01", "quick": True,
                                                  "figures": {"a_ms": 1.0}, "notes": "typed by hand"}))
    (r,) = report.load(str(results))
    assert r["_status"] == "legacy"
    md = open(report.generate(str(results))).read()
    assert "- `old.json` (quick): legacy: re-run needed" in md


def test_notes_must_be_templates_not_text():
    with pytest.raises(TypeError, match="rendered from the script's NOTES"):
        common.write_result("x", {}, notes="free text", results_dir="/nonexistent")


def test_ratio_interval_and_target_use_the_upper_end():
    r = common.ratio([9, 10, 11, 10, 30], [10, 10, 10, 10, 10])
    assert r["median"] == 1.0 and r["lo"] <= 1.0 <= r["hi"] and r["rounds"] == 5
    assert common.target("t", r["median"], 1.05, interval=r)["met"] is False  # median under, upper end over
    assert common.target("t", 0.9, 1.0, interval={"lo": 0.8, "hi": 0.95, "rounds": 5})["met"] is True
    assert common.target("acc", 0.9, 0.8, better="higher")["met"] is True
    gain = common.target("gain", -0.078, 0.0, better="higher")  # a zero limit: the miss is told as a difference
    assert gain["met"] is False and gain["note"].endswith("off by 0.078).") and "inf" not in gain["note"]


def test_interleaved_rounds_settles_each_side_before_timing_it():
    events = []
    calls = {"a": lambda: events.append("a"), "b": lambda: events.append("b")}
    settle = {"b": lambda: events.append("b_small")}
    times = common.interleaved_rounds(calls, rounds=3, per_round=2, warmup=1, settle=settle, settle_s=0.0)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3} and all(t >= 0 for v in times.values() for t in v)
    # warm-up once each, then per round: one settle call (a: itself, b: its smaller input) and two timed calls
    assert events[:2] == ["a", "b"] and events[2:] == ["a", "a", "a", "b_small", "b", "b"] * 3
    events.clear()
    common.interleaved_rounds({"a": lambda: events.append("a")}, rounds=1, per_round=1, warmup=0,
                              settle={"a": lambda: (events.append("s"), __import__("time").sleep(0.01))},
                              settle_s=0.035)
    assert events.count("s") >= 3 and events[-1] == "a"  # untimed calls until settle_s has passed


def test_readme_block_replacement():
    text = f"a\n{report.BEGIN}\nold\n{report.END}\nb\n"
    new = report.replace_block(text, "| t |")
    assert new.startswith("a\n" + report.BEGIN) and "| t |" in new and "old" not in new and new.endswith("b\n")
    with pytest.raises(ValueError, match="markers"):
        report.replace_block("no markers", "x")
