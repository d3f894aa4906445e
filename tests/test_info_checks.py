"""`kbert info` checks what it says it checks (a truncated model file, an empty or binary vocabulary, a
random spiece.model, NaN weights: exit 2 naming the file), and published outputs follow the user's umask."""

import json
import os
import shutil
import stat
import tempfile

import numpy as np
import pytest

import kbert
from kbert import atomic, cli
from kbert.model_dir import save_model_dir

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from kbert.tasks.classifier import build_classifier

    root = tmp_path_factory.mktemp("info")
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB), num_layers=1, max_sequence_length=16)
    model = build_classifier(enc, 2)
    save_model_dir(root / "ok", model, kbert.tokenizers.wordpiece(VOCAB), task="classify", seq_len=8,
                   labels=["neg", "pos"])
    weights = model.get_weights()
    weights[0] = weights[0].copy()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    save_model_dir(root / "nan", model, kbert.tokenizers.wordpiece(VOCAB), task="classify", seq_len=8,
                   labels=["neg", "pos"])
    return root


def _copy(model_dir, tmp_path, name="ok"):
    shutil.copytree(model_dir / name, tmp_path / name)
    return tmp_path / name


def _info(path, capsys):
    code = cli.main(["info", str(path), "--json"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_intact_directory_lists_its_checks(model_dir, capsys):
    code, out, _ = _info(model_dir / "ok", capsys)
    assert code == 0
    checked = json.loads(out)["checked"]
    assert checked[0].startswith("model.keras archive intact, ") and "weight tensors finite" in checked[0]
    assert checked[1] == f"vocab.txt: {len(VOCAB)} tokens"


@pytest.mark.parametrize("damage, message", [
    (lambda d: open(d / "model.keras", "r+b").truncate(os.path.getsize(d / "model.keras") // 2),
     "not a complete Keras model file"),
    (lambda d: (d / "vocab.txt").write_text(""), "vocab.txt is empty"),
    (lambda d: (d / "vocab.txt").write_bytes(bytes(range(256)) * 4), "vocab.txt is binary"),
    (lambda d: (d / "spiece.model").write_bytes(np.random.default_rng(0).bytes(2000)),
     "spiece.model is not a SentencePiece model"),
])
def test_damaged_files_exit_2_naming_them(model_dir, tmp_path, capsys, damage, message):
    d = _copy(model_dir, tmp_path)
    damage(d)
    code, out, _ = _info(d, capsys)
    assert code == 2 and message in json.loads(out)["message"]


def test_nan_weights_exit_2(model_dir, capsys):
    code, out, _ = _info(model_dir / "nan", capsys)
    assert code == 2 and "holds NaN or Inf values" in json.loads(out)["message"]


@pytest.mark.parametrize("labels, message", [(["a", "b", "c"], "lists 3 labels but the model has 2 outputs"),
                                             (None, "a classify model needs its 'labels'")])
def test_kbert_json_labels_must_match_the_model(model_dir, tmp_path, capsys, labels, message):
    d = _copy(model_dir, tmp_path)
    meta = json.loads((d / "kbert.json").read_text())
    (d / "kbert.json").write_text(json.dumps({**meta, "labels": labels}))
    assert cli.main(["export", "serving", "--model", str(d), "--out", str(tmp_path / "s")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "s" / "1").exists()


def test_published_outputs_follow_the_umask(model_dir, tmp_path):
    old = os.umask(0o022)
    try:
        tmp = tempfile.mkdtemp(dir=tmp_path)  # 0700, as every temporary folder
        fd, _ = tempfile.mkstemp(dir=tmp)       # 0600
        os.close(fd)
        os.mkdir(os.path.join(tmp, "sub"), 0o700)
        atomic.publish_dir(tmp, str(tmp_path / "out"))
        modes = {p: stat.S_IMODE(os.stat(os.path.join(r, p)).st_mode)
                 for r, ds, fs in os.walk(tmp_path / "out") for p in ds + fs}
        assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o755
        assert sorted(set(modes.values())) == [0o644, 0o755]
        from kbert.model_dir import load_model_dir

        md = load_model_dir(model_dir / "ok")  # a model directory, as save_model_dir publishes it
        save_model_dir(tmp_path / "md", md.model, md.tokenizer, task="classify", seq_len=8, labels=md.labels)
        assert stat.S_IMODE(os.stat(tmp_path / "md").st_mode) == 0o755
        assert {stat.S_IMODE(os.stat(tmp_path / "md" / f).st_mode) for f in os.listdir(tmp_path / "md")} == {0o644}
    finally:
        os.umask(old)
