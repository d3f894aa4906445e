"""`--out` is replaced only when it is a kbert model directory: a user's folder survives, refused up front."""

import os

import pytest

from kbert import cli
from kbert.errors import KbertInputError
from kbert.output_dir import check_output_dir


def test_absent_empty_and_kbert_directories_are_allowed(tmp_path):
    check_output_dir(tmp_path / "new" / "deeper")
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    md = tmp_path / "md"
    (md / "training" / "backup").mkdir(parents=True)  # what an interrupted run leaves: resumable
    check_output_dir(md)
    for name in ("model.keras", "kbert.json", "vocab.txt", "tokenizer_config.json", "metrics.json", "history.csv"):
        (md / name).write_text("{}")
    (md / ".tmp-md-x1").mkdir()  # a killed run's temporary folder
    check_output_dir(md)


@pytest.mark.parametrize("entries, named", [
    ({"train.csv": "text,label\n"}, "train.csv"),
    ({"notes.txt": "mine", "kbert.json": "{}"}, "notes.txt"),       # a model dir the user added to
    ({"photos/a.jpg": "x"}, "photos"),                               # a subfolder
    ({"training": "a file, not kbert's folder"}, "training"),
])
def test_a_users_folder_is_refused_naming_its_files(tmp_path, entries, named):
    d = tmp_path / "d"
    for rel, text in entries.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    with pytest.raises(KbertInputError, match=f"--out {d}: .*{named}.*move those files away"):
        check_output_dir(d)


def test_current_folder_file_and_unwritable_parent_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for out in (".", str(tmp_path), "..", "sub/.."):
        with pytest.raises(KbertInputError, match="current folder or one above it"):
            check_output_dir(out)
    (tmp_path / "f").write_text("x")
    with pytest.raises(KbertInputError, match="exists and is not a folder"):
        check_output_dir("f")
    with pytest.raises(KbertInputError, match="f exists and is not a folder"):
        check_output_dir("f/model")
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(KbertInputError, match="is not writable"):
                check_output_dir(ro / "model")
        finally:
            ro.chmod(0o700)


def test_save_model_dir_never_replaces_a_users_folder(tmp_path):
    import keras

    import kbert
    from kbert.model_dir import save_model_dir

    d = tmp_path / "mine"
    d.mkdir()
    (d / "data.csv").write_text("precious")
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=50, num_layers=1)
    with pytest.raises(KbertInputError, match="data.csv"):
        save_model_dir(d, keras.Model(enc.input, enc.output["pooled_output"]), None, task="embed", seq_len=8)
    assert (d / "data.csv").read_text() == "precious" and os.listdir(d) == ["data.csv"]


@pytest.mark.parametrize("command", [
    ["finetune", "--task", "classify", "--model", "bert_tiny", "--data", "DATA"],
    ["distill", "--teacher", "minilm", "--data", "DATA"],
])
def test_cli_refuses_a_users_folder_before_training(tmp_path, capsys, command):
    import sys
    import time

    out = tmp_path / "work"
    (out / "sub").mkdir(parents=True)
    (out / "train.csv").write_text("text,label\nhello,pos\n")
    (out / "sub" / "notes.md").write_text("notes")
    t0 = time.time()
    args = [str(out / "train.csv") if a == "DATA" else a for a in command]
    assert cli.main(args + ["--out", str(out)]) == 2
    assert time.time() - t0 < 5  # refused before any model is built
    err = capsys.readouterr().err
    assert f"--out {out}: not a kbert model directory (it holds sub, train.csv)" in err
    assert sorted(os.listdir(out)) == ["sub", "train.csv"] and (out / "sub" / "notes.md").read_text() == "notes"
    assert cli.main(args + ["--out", "."]) == 2
    assert "current folder" in capsys.readouterr().err
