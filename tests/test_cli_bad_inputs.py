"""Every bad input a readable exit 2, early: a table of command lines run through the CLI, each with the
exit code and the message it must print. Add a row for each new case. `{tmp}` is the per-test folder,
`{good}` a valid CSV, other `{name}` placeholders the files made by `FILES` below."""

import json
import os
import subprocess
import sys

import pytest

from kbert import cli

FINETUNE = ["finetune", "--task", "classify", "--model", "bert_tiny", "--data", "{good}", "--out", "{tmp}/o"]
BERT_CONFIG = {"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
               "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32,
               "type_vocab_size": 2}

# name -> (relative path, content: str | bytes)
FILES = {
    "good": ("good.csv", "text,label\n" + "".join(f"text {i},{'pos' if i % 2 else 'neg'}\n" for i in range(20))),
    "header_only": ("header_only.csv", "text,label\n"),
    "empty_csv": ("empty.csv", ""),
    "null_labels": ("null.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": null}\n'),
    "mixed_labels": ("mixed.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": "pos"}\n'),
    "empty_label": ("empty_label.csv", "text,label\nfine,pos\nmeh,\n"),
    "st_list": ("st_list/model.safetensors", (2).to_bytes(8, "little") + b"[]"),
    "st_list_config": ("st_list/config.json", json.dumps(BERT_CONFIG)),
    "bad_seq": ("bad_seq/kbert.json", '{"task": "classify", "seq_len": "long", "labels": ["a", "b"]}'),
    "bad_task": ("bad_task/kbert.json", '{"task": "translate", "seq_len": 16}'),
    "empty_dir": ("empty_dir/.keep", ""),
    "one_sentence": ("one_sentence.txt", "Just one sentence here.\n"),
}

CASES = [
    # (id, argv, exit code, message regex)
    ("limit-0", FINETUNE + ["--limit", "0"], 2, r"--limit must be >= 1, got 0"),
    ("limit-negative", FINETUNE + ["--limit", "-5"], 2, r"--limit must be >= 1, got -5"),
    ("eval-limit-0", FINETUNE + ["--eval-limit", "0"], 2, r"--eval-limit must be >= 1"),
    ("seq-len-1", FINETUNE + ["--seq-len", "1"], 2, r"--seq-len must be >= 3"),
    ("seq-len-huge", FINETUNE + ["--seq-len", "100000"], 2,
     r"--seq-len 100000 is above the model's max_sequence_length 512"),
    ("qa-seq-len-4", FINETUNE[:2] + ["qa"] + FINETUNE[3:] + ["--seq-len", "4"], 2, r"--seq-len must be >= 8"),
    ("learning-rate-0", FINETUNE + ["--learning-rate", "0"], 2, r"--learning-rate must be > 0"),
    ("dropout-1.5", FINETUNE + ["--dropout", "1.5"], 2, r"--dropout must be <= 0.99"),
    ("oom-estimate", ["finetune", "--model", "bert_base", "--data", "{good}", "--batch-size", "4096",
                      "--seq-len", "512", "--out", "{tmp}/o"], 2,
     r"--batch-size 4096 at --seq-len 512 needs about \d+\.\d GiB of activations \(batch 4096 x 12 heads x "
     r"512\^2 x 12 layers, float32\) but \d+\.\d GiB of memory is available"),
    ("out-is-cwd", FINETUNE[:-2] + ["--out", "."], 2, r"--out \.: is the current folder"),
    ("out-is-users-folder", FINETUNE[:-2] + ["--out", "{tmp}/st_list"], 2,
     r"not a kbert model directory \(it holds config.json, model.safetensors\)"),
    ("out-is-a-file", FINETUNE[:-2] + ["--out", "{good}"], 2, r"exists and is not a folder"),
    ("header-only-csv", FINETUNE[:6] + ["{header_only}", "--out", "{tmp}/o"], 2,
     r"header_only.csv: no data rows after the header \['text', 'label'\]"),
    ("empty-csv", FINETUNE[:6] + ["{empty_csv}", "--out", "{tmp}/o"], 2, r"empty.csv: empty file"),
    ("null-label", FINETUNE[:6] + ["{null_labels}", "--out", "{tmp}/o"], 2, r"null.jsonl: row 2: no label"),
    ("empty-label", FINETUNE[:6] + ["{empty_label}", "--out", "{tmp}/o"], 2, r"empty_label.csv: row 3: no label"),
    ("mixed-int-str-labels", FINETUNE[:6] + ["{mixed_labels}", "--out", "{tmp}/o"], 2,
     r"labels mix numbers and strings \(e\.g\. 1 and 'pos'\)"),
    ("distill-limit-0", ["distill", "--teacher", "minilm", "--limit", "0", "--out", "{tmp}/o"], 2,
     r"--limit must be >= 1"),
    ("distill-seq-len-2", ["distill", "--teacher", "minilm", "--seq-len", "2", "--out", "{tmp}/o"], 2,
     r"--seq-len must be >= 3"),
    ("distill-temperature-0", ["distill", "--teacher", "minilm", "--temperature", "0", "--out", "{tmp}/o"], 2,
     r"--temperature must be > 0"),
    ("pretrain-seq-len-4", ["pretrain", "--model", "bert_tiny", "--seq-len", "4", "--out", "{tmp}/o"], 2,
     r"--seq-len must be >= 8"),
    ("pretrain-batch-0", ["pretrain", "--model", "bert_tiny", "--batch-size", "0", "--out", "{tmp}/o"], 2,
     r"--batch-size must be >= 1"),
    ("pretrain-one-sentence-corpus", ["pretrain", "--model", "bert_tiny", "--corpus", "{one_sentence}", "--out",
                                      "{tmp}/o"], 2,
     r"one_sentence.txt: 1 document\(s\) with 1 sentence\(s\) in all, and none with two sentences"),
    ("safetensors-list-header", ["info", "{tmp}/st_list"], 2,
     r"model.safetensors is not a safetensors file: its header is not a JSON object"),
    ("kbert-json-bad-seq-len", ["info", "{tmp}/bad_seq"], 2, r"seq_len must be an integer >= 3, got 'long'"),
    ("kbert-json-bad-task", ["info", "{tmp}/bad_task"], 2, r"unknown task 'translate'"),
    ("serving-no-kbert-json", ["export", "serving", "--model", "{tmp}/empty_dir", "--out", "{tmp}/s"], 2,
     r"kbert.json is missing"),
    ("serving-version-0", ["export", "serving", "--model", "{tmp}/empty_dir", "--out", "{tmp}/s", "--version", "0"],
     2, r"--version must be >= 1, got 0"),
    ("serving-missing-model", ["export", "serving", "--model", "{tmp}/nothing", "--out", "{tmp}/s"], 2,
     r"--model .*nothing: no such kbert model directory"),
    ("serving-out-is-a-file", ["export", "serving", "--model", "{tmp}/empty_dir", "--out", "{good}"], 2,
     r"--out .*good.csv exists and is not a directory"),
]


@pytest.fixture
def files(tmp_path):
    paths = {"tmp": str(tmp_path)}
    for name, (rel, content) in FILES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize("argv, code, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(files, capsys, monkeypatch, argv, code, message):
    monkeypatch.chdir(files["tmp"])
    assert cli.main([a.format(**files) for a in argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, naming the problem
    assert err[0].startswith("kbert: error: ")
    import re

    assert re.search(message, err[0]), err[0]
    assert not os.path.exists(os.path.join(files["tmp"], "o"))  # refused before anything was written


def test_argument_checks_run_before_tensorflow_is_imported(tmp_path):
    """A bad argument exits 2 without importing TensorFlow (fast and quiet)."""
    code = ("import sys; from kbert.cli import main; rc = main(['finetune', '--limit', '0', '--out', 'o']); "
            "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert out.stdout.split() == ["2", "False", "False"], out.stderr
    assert out.stderr.strip() == "kbert: error: --limit must be >= 1, got 0"


def test_stderr_holds_only_kbert_lines_after_tensorflow_starts(tmp_path):
    """TF/CUDA/absl start-up lines do not reach the terminal; the error is the only line (without --debug)."""
    (tmp_path / "md").mkdir()
    cmd = [sys.executable, "-m", "kbert.cli", "export", "serving", "--model", str(tmp_path / "md"), "--out",
           str(tmp_path / "s")]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONPATH=os.getcwd(), KBERT_CACHE=str(tmp_path / "cache"))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"kbert: error: {tmp_path / 'md'} is not a kbert model directory: "
                                               "kbert.json is missing"]
    # what native code wrote went to the log instead (TensorFlow was imported: load_model_dir needs keras)
    assert os.path.isfile(tmp_path / "cache" / "logs" / "stderr.log")


def test_tensorflow_errors_show_their_cause_in_one_line():
    import tensorflow as tf

    from kbert.errors import one_line

    @tf.function
    def lookup(ids):
        return tf.gather(tf.zeros([2, 3]), ids)

    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        lookup(tf.constant([5]))
    assert str(e.value).startswith("Graph execution error:")  # what the CLI printed before
    assert one_line(e.value) == ("indices[0] = 5 is not in [0, 2) (TensorFlow InvalidArgumentError at node "
                                 "GatherV2)")


def test_data_labels_integers_and_long_fields(tmp_path):
    from kbert.data import datasets
    from kbert.data.tasks import classification_data

    d = classification_data(["a", "b", "c"], [0, 2, 0])  # JSONL integer labels are names, not ids
    assert d.label_names == ["0", "2"] and d.y.tolist() == [0, 1, 0]
    d = classification_data(["a", "b", "c"], [10, 2, 2])
    assert d.label_names == ["2", "10"] and d.y.tolist() == [1, 0, 0]
    long = tmp_path / "long.csv"
    long.write_text("text,label\n" + "word " * 40000 + ",pos\nshort,neg\n")  # 200,000 characters
    assert len(datasets.read_csv(str(long)).texts[0]) == 200000


def test_tokenizer_from_a_tiny_corpus_warns(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("Just one sentence here.\n")
    assert cli.main(["tokenizer", "train", "--kind", "wordpiece", "--corpus", str(corpus), "--vocab-size", "8000",
                     "--out", str(tmp_path / "tok"), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["vocab_size"] < 100 and "gave only" in result["warning"]
    assert captured.err.startswith(f"kbert: warning: the corpus gave only {result['vocab_size']} tokens of the 8000")
