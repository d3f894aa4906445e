import json
import os

import pytest

from kbert.cli import main


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    from kbert import tokenizer_training

    d = str(tmp_path_factory.mktemp("tok"))
    tokenizer_training.train_sentencepiece("bundled", vocab_size=300, out=d, max_documents=4)
    return d


def _json(capsys):
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def test_pretrain_cli_outputs_and_resume(tmp_path, spm_dir, capsys):
    from kbert.model_dir import load_model_dir

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": "albert_tiny", "overrides": {"num_layers": 1}, "seq_len": 32,
                               "batch_size": 4, "warmup_steps": 2, "checkpoint_every": 3}))
    out = str(tmp_path / "run")
    args = ["pretrain", "--json", "--config", str(cfg), "--tokenizer", spm_dir, "--steps", "6", "--out", out]
    assert main(args) == 0
    summary = _json(capsys)
    assert summary["steps"] == 6 and summary["resumed_from_step"] == 0
    assert set(summary["metrics"]) == {"loss", "mlm_loss", "mlm_accuracy", "sop_loss", "sop_accuracy"}
    for f in ("pretrain_curves.png", "history.csv", "config.json", "checkpoints/ckpt-6.index"):
        assert os.path.isfile(os.path.join(out, f)), f
    assert any(fn.startswith("events") for _, _, fs in os.walk(os.path.join(out, "logs")) for fn in fs)
    with open(os.path.join(out, "pretrain_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    md = load_model_dir(os.path.join(out, "model"))
    assert md.task == "pretrain" and md.meta["family"] == "albert" and md.meta["objective"] == "sop"
    assert md.tokenizer.vocabulary_size() == 300
    # Same command with more steps resumes from the last checkpoint.
    assert main(args[:-4] + ["--steps", "9", "--out", out]) == 0
    summary = _json(capsys)
    assert summary["resumed_from_step"] == 6 and summary["steps"] == 9


def test_pretrain_bad_input_exit_code_2(tmp_path, spm_dir, capsys):
    base = ["pretrain", "--model", "albert_tiny", "--tokenizer", spm_dir, "--steps", "2", "--out", str(tmp_path / "o")]
    assert main(base + ["--seq-len", "4"]) == 2
    assert "--seq-len must be >= 8 (room for [CLS], text and [SEP]), got 4" in capsys.readouterr().err  # before TF
    bad = tmp_path / "bad.json"
    bad.write_text('{"modle": "bert_tiny"}')
    assert main(base + ["--config", str(bad)]) == 2
    assert "unknown keys ['modle']" in capsys.readouterr().err
    assert main(["pretrain", "--model", "bert_tinyy", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    assert main(["pretrain", "--model", "distilbert_tiny", "--steps", "1", "--out", str(tmp_path / "y")]) == 2
    assert main(["pretrain", "--model", "albert_tiny", "--corpus", str(tmp_path / "missing"), "--steps", "1",
                 "--out", str(tmp_path / "z")]) == 2


def test_recipe_configs_are_valid():
    import glob

    from kbert.cli.pretrain import DEFAULTS

    from kbert.presets import get_preset

    files = glob.glob(os.path.join(os.path.dirname(__file__), "..", "kbert", "configs", "pretrain_*.json"))
    assert len(files) >= 3
    for f in files:
        cfg = json.load(open(f))
        assert set(cfg) - {"description"} <= set(DEFAULTS), f
        get_preset(cfg["model"])
