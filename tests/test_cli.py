"""The `kbert` console script: help, presets table, info, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from kbert import assets
from kbert.presets import PRESETS, count_params


def kbert(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "kbert.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_commands_with_examples():
    r = kbert("--help")
    assert r.returncode == 0
    for cmd in ("presets", "info", "quickstart"):
        assert cmd in r.stdout
    assert "examples:" in r.stdout


def test_presets_table_shows_exact_counts():
    r = kbert("presets")
    assert r.returncode == 0, r.stderr
    for name, p in PRESETS.items():
        line = next(l for l in r.stdout.splitlines() if l.startswith(name + " "))
        assert f"{count_params(p.family, p.config):,}" in line
    assert "335,141,888" in r.stdout and "222,595,584" in r.stdout


def test_presets_json_and_family_filter():
    r = kbert("presets", "--family", "albert", "--json")
    rows = json.loads(r.stdout)
    assert {row["family"] for row in rows} == {"albert"} and len(rows) == 5


def test_info_describes_real_checkpoint():
    r = kbert("info", assets.minilm_dir(), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["params"] == 22_713_216 and info["weights_file"] == "model.safetensors"


@pytest.mark.parametrize(
    "args,message",
    [
        (("info", "/no/such/dir"), "not a folder: /no/such/dir"),
        (("presets", "--family", "gpt"), "invalid choice"),
        (("no-such-command",), "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    r = kbert(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_checkpoint_is_one_line_error(tmp_path):
    (tmp_path / "config.json").write_text("{broken")
    r = kbert("info", str(tmp_path))
    assert r.returncode == 2
    assert "kbert: error:" in r.stderr and "config.json is not valid JSON" in r.stderr
    assert "Traceback" not in r.stderr
    r = kbert("info", str(tmp_path), "--debug")
    assert "Traceback" in r.stderr


def test_global_flags_work_before_and_after_the_subcommand():
    before = kbert("--json", "presets", "--family", "distilbert")
    after = kbert("presets", "--family", "distilbert", "--json")
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
