import json
import os

import pytest

from kbert import cli
from kbert.model_dir import load_model_dir

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _csv(path, n=48):
    rows = ["text,label"]
    for i in range(n):
        rows.append(f"this movie was {'great fun' if i % 2 else 'dull and slow'} number {i},{'pos' if i % 2 else 'neg'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_classify_end_to_end(tmp_path, capsys):
    data = _csv(tmp_path / "reviews.csv")
    out = tmp_path / "clf"
    code = cli.main(["finetune", "--quiet", "--task", "classify", "--model", "bert_tiny", "--data", str(data),
                     "--epochs", "2", "--seq-len", "16", "--batch-size", "8", "--learning-rate", "1e-3",
                     "--out", str(out)])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["sizes"]["train"] == 38 and sum(m["sizes"].values()) == 48
    assert set(m["test"]) >= {"accuracy", "macro_f1", "confusion_matrix"}
    assert {"training_curves.png", "confusion_matrix.png"} <= set(os.listdir(out))
    md = load_model_dir(out)
    assert md.task == "classify" and md.labels == ["neg", "pos"] and md.meta["pair"] is False
    assert md.seq_len == 16 and set(md.model.output) == {"logits"}


def test_ner_and_qa_end_to_end(tmp_path):
    conll = tmp_path / "ner.conll"
    sents = [("John lives in Paris", "B-PER O O B-LOC"), ("Mary works in Rome", "B-PER O O B-LOC")] * 10
    conll.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(s.split(), ts.split())) for s, ts in sents))
    assert cli.main(["finetune", "--quiet", "--task", "ner", "--model", "distilbert_tiny", "--data", str(conll),
                     "--epochs", "1", "--seq-len", "12", "--out", str(tmp_path / "ner")]) == 0
    m = json.loads((tmp_path / "ner" / "metrics.json").read_text())
    assert {"precision", "recall", "f1"} <= set(m["test"])
    assert load_model_dir(tmp_path / "ner").labels == ["O", "B-LOC", "B-PER"]
    assert cli.main(["finetune", "--quiet", "--task", "qa", "--model", "bert_tiny", "--data", "handwritten",
                     "--epochs", "1", "--seq-len", "64", "--doc-stride", "32", "--out", str(tmp_path / "qa")]) == 0
    m = json.loads((tmp_path / "qa" / "metrics.json").read_text())
    assert {"exact_match", "f1"} <= set(m["test"]) and m["test"]["windows"] >= m["test"]["n"]
    md = load_model_dir(tmp_path / "qa")
    assert set(md.model.output) == {"start_logits", "end_logits"} and md.meta["doc_stride"] == 32


def test_bad_input_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,pos\n,neg\n")
    args = ["finetune", "--task", "classify", "--model", "bert_tiny", "--out", str(tmp_path / "o")]
    assert cli.main(args + ["--data", str(bad)]) == 2
    assert "row 3: empty text" in capsys.readouterr().err
    assert cli.main(args + ["--data", "tfds:conll2003"]) == 2
    assert "not a classify dataset" in capsys.readouterr().err
    assert cli.main(args + ["--data", str(tmp_path / "missing.csv")]) == 2
    assert cli.main(["finetune", "--task", "classify", "--model", "albert_tiny", "--data", str(_csv(tmp_path / "ok.csv")),
                     "--out", str(tmp_path / "o")]) == 2  # (bad data is reported first: it is read before the model)
    assert "--tokenizer" in capsys.readouterr().err


@pytest.mark.slow
def test_resumes_after_a_crash(tmp_path, monkeypatch):
    import keras

    from kbert.recipes import finetune
    from kbert.recipes.finetune import FinetuneConfig

    data = _csv(tmp_path / "reviews.csv")
    config = FinetuneConfig(model="bert_tiny", data=str(data), epochs=3, seq_len=16, batch_size=8, learning_rate=1e-3,
                            patience=5)

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated crash")

    from kbert.training import callbacks as cb

    real = cb.epoch_checkpoints
    monkeypatch.setattr(cb, "epoch_checkpoints", lambda *a, **k: real(*a, **k) + [Crash()])
    with pytest.raises(RuntimeError, match="simulated crash"):
        finetune.finetune(config, str(tmp_path / "out"), say=lambda *a: None, verbose=0)
    monkeypatch.setattr(cb, "epoch_checkpoints", real)
    assert os.path.isdir(tmp_path / "out" / "training" / "backup")
    finetune.finetune(config, str(tmp_path / "out"), say=lambda *a: None, verbose=0)
    epochs = [line.split(",")[0] for line in (tmp_path / "out" / "history.csv").read_text().splitlines()[1:]]
    # the crashed run logged epoch 0 (the crash hits before epoch 1 is logged but after its backup);
    # the rerun continues at epoch 2 instead of starting again from 0
    assert epochs == ["0", "2"]


def test_eval_data_labels_take_the_training_ids(tmp_path, capsys):
    """An eval file holding only "pos" rows is scored against the training ids (neg=0, pos=1), not a list
    of its own (where "pos" would become id 0, i.e. "neg")."""
    data = _csv(tmp_path / "train.csv", n=16)
    only_pos = tmp_path / "eval_pos.csv"
    only_pos.write_text("text,label\n" + "".join(f"great fun number {i},pos\n" for i in range(6)))
    out = tmp_path / "clf"
    args = ["finetune", "--quiet", "--task", "classify", "--model", "bert_tiny", "--data", str(data),
            "--epochs", "1", "--seq-len", "12", "--batch-size", "8"]
    assert cli.main(args + ["--eval-data", str(only_pos), "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["test"]["n"] == 6 and m["test"]["confusion_matrix"][0] == [0, 0]  # no gold "neg"
    assert sum(m["test"]["confusion_matrix"][1]) == 6
    # a label training never saw: exit 2 naming the file, row and label, before any training
    unseen = tmp_path / "eval_unseen.csv"
    unseen.write_text("text,label\nfine,pos\nmeh,neutral\n")
    assert cli.main(args + ["--eval-data", str(unseen), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert f"{unseen}: row 3: label 'neutral' is not in the label set ['neg', 'pos']" in err
    assert not (tmp_path / "o2").exists()
