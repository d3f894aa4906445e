import csv
import json
import os

import numpy as np
import pytest

import kbert
from kbert.preprocessing import TextPreprocessor
from kbert.cli import main
from kbert.model_dir import load_model_dir, save_model_dir

WORDS = ["good", "great", "fine", "bad", "awful", "poor", "movie", "film", "plot", "the", "a", "was"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(80):
        label = ["neg", "pos"][i % 2]
        word = rng.choice(WORDS[:3] if label == "pos" else WORDS[3:6])
        rows.append({"text": f"the {rng.choice(WORDS[6:9])} was {word}", "label": label})
    data = root / "data.csv"
    with open(data, "w", newline="") as f:
        w = csv.DictWriter(f, ["text", "label"])
        w.writeheader()
        w.writerows(rows)
    tok = kbert.tokenizers.wordpiece(VOCAB, "bert")
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB), num_layers=2, max_sequence_length=32)
    # the teacher is what `kbert finetune` writes: a kbert.TextClassifier with its preprocessor
    clf = kbert.TextClassifier(enc, labels=["neg", "pos"], preprocessor=TextPreprocessor(tok, seq_len=8))
    clf.compile(learning_rate=3e-3)
    clf.fit([r["text"] for r in rows], [r["label"] for r in rows], epochs=4, batch_size=16, verbose=0)
    save_model_dir(root / "teacher", clf, tok, task="classify", seq_len=8, labels=["neg", "pos"], pair=False,
                   multi_label=False)
    return root


@pytest.mark.slow
def test_distill_classifier_end_to_end(teacher_dir, capsys):
    out = teacher_dir / "student"
    code = main(["distill", "--json", "--teacher", str(teacher_dir / "teacher"), "--student-layers", "1",
                 "--data", str(teacher_dir / "data.csv"), "--epochs", "2", "--batch-size", "16",
                 "--learning-rate", "1e-3", "--out", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.load(open(out / "distill_report.json"))
    assert printed["student_accuracy"] == report["student_accuracy"]
    assert report["student_params"] < report["teacher_params"]
    assert report["student_layers_from_teacher"] == [0]
    assert 0 <= report["student_accuracy"] <= 1 and report["teacher_latency_ms"] > 0
    assert set(report["history"]) >= {"loss", "ce_loss", "mlm_loss", "cos_loss", "val_loss"}
    assert os.path.getsize(out / "distill_curves.png") > 1000
    md = load_model_dir(out)
    assert md.task == "classify" and md.labels == ["neg", "pos"] and md.meta["student_layers"] == 1
    assert isinstance(md.model, kbert.TextClassifier) and md.model.labels == ["neg", "pos"]  # a task model too
    assert md.model.predict(["the film was good"], decode=True, verbose=0)[0] in ("neg", "pos")
    enc = [l for l in md.model.layers if hasattr(l, "transformer_layers")][0]
    assert len(enc.transformer_layers) == 1


def test_distill_missing_teacher_exits_2(tmp_path, capsys):
    assert main(["distill", "--teacher", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "neither 'minilm' nor a kbert model directory" in capsys.readouterr().err
    assert main(["distill", "--out", str(tmp_path / "o")]) == 2
    assert "--teacher is required" in capsys.readouterr().err


@pytest.mark.slow
def test_distill_bad_inputs_exit_2(teacher_dir, tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("text,label\nthe film was good,happy\nthe film was bad,sad\n")
    assert main(["distill", "--teacher", str(teacher_dir / "teacher"), "--data", str(other),
                 "--out", str(tmp_path / "o")]) == 2
    assert main(["distill", "--teacher", str(teacher_dir / "teacher"), "--student-layers", "5",
                 "--data", str(teacher_dir / "data.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "1..2" in capsys.readouterr().err


@pytest.mark.slow
def test_distill_minilm_mlm(tmp_path):
    out = tmp_path / "mlm"
    code = main(["--quiet", "distill", "--teacher", "minilm", "--student-layers", "2", "--student-family",
                 "distilbert", "--seq-len", "32", "--limit", "64", "--eval-limit", "32", "--head-examples", "120", "--head-epochs", "1",
                 "--epochs", "1", "--ce-positions", "masked", "--out", str(out)])
    assert code == 0
    report = json.load(open(out / "distill_report.json"))
    assert report["mode"] == "mlm" and report["student_layers_from_teacher"] == [0, 5]
    assert report["mlm_head"]["heldout_segments"] > 0
    md = load_model_dir(out)
    assert md.task == "encoder" and kbert.models.family_of(md.model) == "distilbert"
