"""The package as a user gets it: `python -m build` makes an sdist and a wheel (built from the sdist),
the wheel installs with `--no-deps` into a fresh venv that borrows the dependencies of this one, and,
run outside the checkout, `kbert presets`, a tiny fine-tune and `kbert export hf` work; `kbert bench`
says in one line that it needs a checkout."""

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(cmd, cwd, env, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    if not os.path.isdir(os.path.join(ROOT, ".git")) and not os.path.isfile(os.path.join(ROOT, ".git")):
        pytest.skip("needs a git checkout to list the source files")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    src = tmp_path / "src"
    for f in files:
        if os.path.isfile(os.path.join(ROOT, f)) and not os.path.islink(os.path.join(ROOT, f)):
            os.makedirs(src / os.path.dirname(f), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), src / f)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"

    # sdist + wheel (the wheel is built from the sdist, so the sdist is complete)
    build = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(src)],
                 tmp_path, env)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    dist = sorted(os.listdir(tmp_path / "dist"))
    wheels = [d for d in dist if d.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("keras_kbert-") and any(d.endswith(".tar.gz") for d in dist)
    with zipfile.ZipFile(tmp_path / "dist" / wheels[0]) as zf:
        names = zf.namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"kbert"}
    assert "kbert/data/corpus/austen.txt" in names and "kbert/configs/finetune_sentiment.json" in names

    # a fresh venv that sees this venv's packages (TensorFlow, ...) but not its editable kbert
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env).returncode == 0
    py = venv / "bin" / "python"
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (venv / "lib" / ver / "site-packages" / "_deps.pth").write_text(
        "\n".join(p for p in site.getsitepackages() if os.path.isdir(p)) + "\n")
    install = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(tmp_path / "dist" / wheels[0])], tmp_path, env)
    assert install.returncode == 0, install.stderr[-2000:]
    kbert_bin = str(venv / "bin" / "kbert")

    work = tmp_path / "work"
    work.mkdir()
    where = _run([str(py), "-c", "import kbert; print(kbert.__file__)"], work, env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    presets = _run([kbert_bin, "presets", "--json"], work, env)
    assert presets.returncode == 0, presets.stderr[-2000:]
    assert "bert_tiny" in presets.stdout

    rows = ["text,label"] + [f"this film was {'great fun' if i % 2 else 'dull and slow'} {i},{'pos' if i % 2 else 'neg'}"
                             for i in range(40)]
    (work / "reviews.csv").write_text("\n".join(rows) + "\n")
    tune = _run([kbert_bin, "finetune", "--quiet", "--task", "classify", "--model", "bert_tiny", "--data",
                 "reviews.csv", "--epochs", "1", "--seq-len", "16", "--batch-size", "8", "--out", "clf"], work, env)
    assert tune.returncode == 0, tune.stderr[-3000:]
    export = _run([kbert_bin, "export", "hf", "--json", "--model", "clf", "--out", "hf"], work, env)
    assert export.returncode == 0, export.stderr[-3000:]
    assert json.loads(export.stdout.strip().splitlines()[-1])["architecture"] == "BertForSequenceClassification"
    assert {"config.json", "model.safetensors", "vocab.txt"} <= set(os.listdir(work / "hf"))

    bench = _run([kbert_bin, "bench", "--list"], work, env)
    ours = [l for l in bench.stderr.splitlines() if l.startswith("kbert:")]
    assert bench.returncode == 2 and len(ours) == 1 and "source checkout" in ours[0]
