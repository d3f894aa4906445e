"""Hugging Face Hub names (`bert-base-uncased`, `hf://owner/name`) through huggingface_hub's real
`snapshot_download`, offline (HF_HUB_OFFLINE=1) against a Hub cache pre-populated with the real MiniLM
files, and a one-line error for a name that is not cached."""

import os
import subprocess
import sys

import pytest

from kbert.checkpoints.hf import is_hub_name, names_hub_repo

REPO = "sentence-transformers/all-MiniLM-L6-v2"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_hub_name_rules(tmp_path):
    assert is_hub_name("bert-base-uncased") and is_hub_name("albert-base-v2")
    assert names_hub_repo("bert-base-uncased") and names_hub_repo("hf://gpt2") and names_hub_repo(REPO)
    assert not names_hub_repo("bert_tny")  # a mistyped preset keeps its "did you mean" hint
    assert is_hub_name("hf://" + REPO) and is_hub_name(REPO) and is_hub_name(REPO + "@main")
    assert not is_hub_name(str(tmp_path)) and not is_hub_name("./runs/x") and not is_hub_name("/abs/path")


def _hub_cache(home, folder):
    """The Hub cache layout: refs/main -> commit, snapshots/<commit>/<files> (symlinks, like the Hub's)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = home / "hub" / ("models--" + REPO.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for name in os.listdir(folder):
        os.symlink(os.path.join(folder, name), snap / name)
    return snap


SCRIPT = """
import sys
import numpy as np
import kbert
from kbert.checkpoints.hf import load_hf
from kbert.errors import KbertInputError

a = load_hf("hf://{repo}")
b = load_hf("{repo}")
assert a.path == b.path and a.path.startswith(sys.argv[1]), a.path
local = load_hf(kbert.assets.minilm_dir())
x = kbert.models.dummy_inputs(a.backbone)
assert np.allclose(a.backbone(x)["sequence_output"], local.backbone(x)["sequence_output"], atol=1e-6)
assert a.tokenizer(["Hello Hub"]) == local.tokenizer(["Hello Hub"])
from kbert.tasks.classifier import TextClassifier

clf = TextClassifier.from_preset("hf://{repo}", labels=["neg", "pos"], seq_len=16)
assert clf.backbone.count_params() == local.backbone.count_params()
try:
    TextClassifier.from_preset("bert-base-uncased", num_classes=2)
except KbertInputError as e:
    assert "not in the cache" in str(e), e
else:
    raise AssertionError("an uncached Hub name loaded")
try:
    load_hf("bert-base-uncased")
except KbertInputError as e:
    print("ERROR:", e)
"""


def test_offline_cache_and_missing_name(tmp_path):
    import kbert

    home = tmp_path / "hf_home"
    _hub_cache(home, kbert.assets.minilm_dir())
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=REPO), str(home)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    error = [l for l in proc.stdout.splitlines() if l.startswith("ERROR:")]
    assert len(error) == 1 and "'bert-base-uncased' is not in the cache" in error[0] and "HF_HUB_OFFLINE=1" in error[0]

    # The CLI: exit 2 and one line naming the repo.
    proc = subprocess.run([sys.executable, "-m", "kbert.cli", "info", "hf://albert-base-v2"], env=env,
                          capture_output=True, text=True, timeout=300)
    ours = [l for l in proc.stderr.splitlines() if l.startswith("kbert:")]  # TF's own log lines aside
    assert proc.returncode == 2 and len(ours) == 1 and "'albert-base-v2' is not in the cache" in ours[0]
