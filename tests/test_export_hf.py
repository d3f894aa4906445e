"""`kbert export hf`: Hugging Face folders that `transformers` loads without remote code, with the same
outputs as kbert (1e-4) on real text, for the three families and the stock heads; HF -> kbert -> HF
lossless; a mean-pooling head refused in one line; keras-hub preset export reloads with the same outputs."""

import itertools
import json
import os
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.parity

FAMILIES = ("bert", "distilbert", "albert")


@pytest.fixture(scope="module")
def sentences():
    from kbert.data import corpus
    from kbert.data.sentences import split_sentences

    chapter = next(itertools.islice(corpus.bundled_documents(), 2, None))
    lines = [l for l in split_sentences(chapter) if 30 < len(l) < 160][:6]
    return lines + ["Café naïve — Ångström's 1,234.56 résumé!", "MR. DARCY said: \"No!\""]


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    """Tiny random transformers checkpoints (safetensors) with real tokenizer files, one per family."""
    import torch
    import transformers

    import kbert
    from kbert import tokenizer_training

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    spm = root / "spm"
    tokenizer_training.train_sentencepiece("bundled", vocab_size=500, out=str(spm), max_documents=3)
    vocab = os.path.join(kbert.assets.minilm_dir(), "vocab.txt")
    small = dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=32, intermediate_size=64,
                 max_position_embeddings=64)
    configs = {
        "bert": transformers.BertConfig(vocab_size=30522, **small),
        "distilbert": transformers.DistilBertConfig(vocab_size=30522, n_layers=2, n_heads=2, dim=32, hidden_dim=64,
                                                    max_position_embeddings=64),
        "albert": transformers.AlbertConfig(vocab_size=500, embedding_size=16, **small),
    }
    folders = {}
    for family, config in configs.items():
        model = transformers.AutoModel.from_config(config).eval()
        with torch.no_grad():  # LayerNorms and biases away from their 1/0 init, so a swap would show
            for name, p in model.named_parameters():
                if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                    p.add_(torch.randn_like(p) * 0.1)
        folder = root / family
        model.save_pretrained(str(folder))
        if family == "albert":
            shutil.copy(spm / "spiece.model", folder)
            (folder / "tokenizer_config.json").write_text(json.dumps(
                {"tokenizer_class": "AlbertTokenizer", "do_lower_case": True, "keep_accents": False}))
        else:
            shutil.copy(vocab, folder)
            (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
        folders[family] = folder
    return folders


@pytest.mark.parametrize("family", FAMILIES)
def test_hf_kbert_hf_lossless(hf_folders, tmp_path, family):
    from safetensors.numpy import load_file

    from kbert.export.hf import export_hf

    result = export_hf(str(hf_folders[family]), str(tmp_path / "out"))
    assert result["task"] == "encoder"
    before, after = load_file(str(hf_folders[family] / "model.safetensors")), load_file(str(tmp_path / "out" / "model.safetensors"))
    assert set(after) == set(before)
    for k in before:
        assert np.array_equal(before[k], after[k]), k
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    original = json.loads((hf_folders[family] / "config.json").read_text())
    for key in ("vocab_size", "max_position_embeddings", "hidden_size", "dim", "n_layers", "num_hidden_layers",
                "embedding_size", "intermediate_size", "hidden_dim", "hidden_act"):
        if key in original:
            assert config[key] == original[key], key


def _task_model(family, folder, task, pooling=None):
    from kbert.checkpoints.hf import load_hf
    from kbert.tasks.classifier import build_classifier
    from kbert.tasks.question_answerer import build_question_answerer
    from kbert.tasks.token_classifier import build_token_classifier

    ck = load_hf(str(folder))
    if task == "classify":
        model = build_classifier(ck.backbone, 3, pooling=pooling)
    elif task == "ner":
        model = build_token_classifier(ck.backbone, 5)
    else:
        model = build_question_answerer(ck.backbone)
    import keras

    for layer in model.layers:  # heads away from their zero biases
        if isinstance(layer, keras.layers.Dense):
            layer.bias.assign(np.linspace(-0.5, 0.5, layer.bias.shape[0]).astype("float32"))
    return model, ck


CASES = [("bert", "classify", "pooled"), ("bert", "classify", "cls"), ("bert", "ner", None), ("bert", "qa", None),
         ("distilbert", "classify", "pooled"), ("distilbert", "ner", None), ("distilbert", "qa", None),
         ("albert", "classify", "pooled"), ("albert", "classify", "cls"), ("albert", "ner", None),
         ("albert", "qa", None)]


@pytest.mark.parametrize("family,task,pooling", CASES)
def test_transformers_reload_parity(hf_folders, sentences, tmp_path, family, task, pooling):
    import torch
    import transformers

    from kbert.export.hf import export_hf
    from kbert.model_dir import save_model_dir

    model, ck = _task_model(family, hf_folders[family], task, pooling)
    labels = ["neg", "neu", "pos"] if task == "classify" else ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"] if task == "ner" else None
    md = save_model_dir(tmp_path / "md", model, ck.tokenizer, task=task, seq_len=48, labels=labels)
    out = tmp_path / "hf"
    result = export_hf(md, str(out))
    auto = {"classify": transformers.AutoModelForSequenceClassification,
            "ner": transformers.AutoModelForTokenClassification,
            "qa": transformers.AutoModelForQuestionAnswering}[task]
    hf = auto.from_pretrained(str(out)).eval()
    assert type(hf).__name__ == result["architecture"]
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    if labels:
        assert [hf.config.id2label[i] for i in range(len(labels))] == labels
    enc = tok(sentences, padding=True, return_tensors="pt")
    ids = enc["input_ids"].numpy()
    # kbert's tokenizer gives the same ids as the exported tokenizer
    ours = [list(np.asarray(x)) for x in ck.tokenizer(sentences)]
    for row, mask, want in zip(ids, enc["attention_mask"].numpy(), ours):
        assert list(row[mask == 1][1:-1]) == want
    x = {"token_ids": ids.astype("int32"), "padding_mask": enc["attention_mask"].numpy().astype("int32")}
    if family != "distilbert":
        x["segment_ids"] = np.zeros_like(x["token_ids"])
    got = model(x)
    with torch.no_grad():
        ref = hf(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
    mask = x["padding_mask"].astype(bool)
    if task == "classify":
        np.testing.assert_allclose(np.asarray(got["logits"]), ref.logits.numpy(), atol=1e-4)
    elif task == "ner":
        np.testing.assert_allclose(np.asarray(got["logits"])[mask], ref.logits.numpy()[mask], atol=1e-4)
    else:
        for key in ("start_logits", "end_logits"):
            np.testing.assert_allclose(np.asarray(got[key])[mask], getattr(ref, key).numpy()[mask], atol=1e-4)


def test_mean_pooling_refused_and_encoder_only(hf_folders, tmp_path, capsys):
    from kbert import cli
    from kbert.model_dir import save_model_dir

    model, ck = _task_model("bert", hf_folders["bert"], "classify", "mean")
    md = save_model_dir(tmp_path / "md", model, ck.tokenizer, task="classify", seq_len=32, labels=["a", "b", "c"])
    assert cli.main(["export", "hf", "--model", str(md), "--out", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mean-pooling" in err[0] and "supported:" in err[0]
    assert not (tmp_path / "hf").exists()
    assert cli.main(["export", "hf", "--quiet", "--model", str(md), "--encoder-only", "--out", str(tmp_path / "enc")]) == 0
    config = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    # the head beside the encoder reproduces the classifier in a few lines of transformers code
    import torch
    import transformers
    from safetensors.torch import load_file

    head = load_file(str(tmp_path / "enc" / "head.safetensors"))
    info = json.loads((tmp_path / "enc" / "head.json").read_text())
    assert info["pooling"] == "mean" and info["labels"] == ["a", "b", "c"]
    texts = ["It is a truth universally acknowledged.", "Café, 1,234 times!"]
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "enc"))
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = transformers.AutoModel.from_pretrained(str(tmp_path / "enc")).eval()(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        logits = ((hidden * m).sum(1) / m.sum(1)) @ head["classifier.weight"].T + head["classifier.bias"]
    x = {"token_ids": enc["input_ids"].numpy().astype("int32"), "padding_mask": enc["attention_mask"].numpy().astype("int32"),
         "segment_ids": enc["token_type_ids"].numpy().astype("int32")}
    np.testing.assert_allclose(np.asarray(model(x)["logits"]), logits.numpy(), atol=1e-4)
    # a second export into the same folder needs --overwrite; a foreign folder is never replaced
    assert cli.main(["export", "hf", "--model", str(md), "--encoder-only", "--out", str(tmp_path / "enc")]) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert cli.main(["export", "hf", "--model", str(md), "--encoder-only", "--out", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("family", FAMILIES)
def test_keras_hub_preset_reload(hf_folders, sentences, tmp_path, family):
    import keras_hub

    from kbert.export.keras_hub_preset import export_keras_hub
    from kbert.checkpoints.hf import load_hf
    from kbert.preprocessing import TextPreprocessor

    ck = load_hf(str(hf_folders[family]))
    export_keras_hub(str(hf_folders[family]), str(tmp_path / "preset"))
    backbone = keras_hub.models.Backbone.from_preset(str(tmp_path / "preset"))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(tmp_path / "preset"))
    assert type(backbone) is type(ck.backbone) and type(tokenizer) is type(ck.tokenizer)
    assert [list(np.asarray(t)) for t in tokenizer(sentences)] == [list(np.asarray(t)) for t in ck.tokenizer(sentences)]
    x = TextPreprocessor(ck.tokenizer, seq_len=32)(sentences)
    x = {k: v for k, v in x.items() if k in backbone.input}
    want, got = ck.backbone(x), backbone(x)
    key = "sequence_output" if isinstance(want, dict) else None
    np.testing.assert_array_equal(np.asarray(got[key] if key else got), np.asarray(want[key] if key else want))


def test_keras_hub_preset_loads_in_a_fresh_process(hf_folders, sentences, tmp_path):
    """What a keras-hub user writes: keras_hub + `import kbert.tokenizers`, nothing else of kbert."""
    import subprocess
    import sys

    from kbert.checkpoints.hf import load_hf
    from kbert.export.keras_hub_preset import export_keras_hub
    from kbert.preprocessing import TextPreprocessor

    export_keras_hub(str(hf_folders["albert"]), str(tmp_path / "preset"))
    ck = load_hf(str(hf_folders["albert"]))
    x = TextPreprocessor(ck.tokenizer, seq_len=32)(sentences)
    np.savez(tmp_path / "x.npz", **{k: np.asarray(v) for k, v in x.items()})
    code = (
        "import sys, json, numpy as np, keras_hub\n"
        "import kbert.tokenizers\n"
        "b = keras_hub.models.Backbone.from_preset(sys.argv[1])\n"
        "t = keras_hub.tokenizers.Tokenizer.from_preset(sys.argv[1])\n"
        "x = dict(np.load(sys.argv[2]))\n"
        "np.save(sys.argv[3], np.asarray(b(x)['sequence_output']))\n"
        "print(json.dumps([np.asarray(r).tolist() for r in t(json.loads(sys.argv[4]))]))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "preset"), str(tmp_path / "x.npz"),
                           str(tmp_path / "y.npy"), json.dumps(sentences)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [np.asarray(r).tolist() for r in ck.tokenizer(sentences)]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.asarray(ck.backbone(x)["sequence_output"]))


def test_task_class_object_exports(hf_folders, sentences, tmp_path):
    """A kbert task class (TextClassifier) exports straight from the object: its pooling and labels
    come from the class itself."""
    import torch
    import transformers

    from kbert.export.hf import export_hf
    from kbert.tasks.classifier import TextClassifier

    clf = TextClassifier.from_preset(str(hf_folders["albert"]), labels=["x", "y"], pooling="cls", seq_len=48)
    result = export_hf(clf, str(tmp_path / "hf"))
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf")).eval()
    assert result["architecture"] == "AlbertForSequenceClassification" and hf.config.id2label == {0: "x", 1: "y"}
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    enc = tok(sentences, padding=True, return_tensors="pt")
    x = {"token_ids": enc["input_ids"].numpy().astype("int32"), "padding_mask": enc["attention_mask"].numpy().astype("int32")}
    x["segment_ids"] = np.zeros_like(x["token_ids"])
    with torch.no_grad():
        ref = hf(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.numpy()
    np.testing.assert_allclose(np.asarray(clf(x)["logits"]), ref, atol=1e-4)


def test_keras_hub_text_classifier_preset_reload(hf_folders, sentences, tmp_path):
    """A "pooled" ALBERT classifier (kbert's AlbertTokenizer, SentencePiece) exports as keras-hub's
    AlbertTextClassifier: `keras_hub.models.TextClassifier.from_preset` predicts kbert's logits on raw text."""
    import keras_hub

    from kbert.export.keras_hub_preset import export_keras_hub
    from kbert.tasks.classifier import TextClassifier

    clf = TextClassifier.from_preset(str(hf_folders["albert"]), labels=["x", "y", "z"], seq_len=48)
    head = clf.get_layer("logits")
    head.set_weights([w + np.random.default_rng(0).normal(0, 0.5, w.shape) for w in head.get_weights()])
    result = export_keras_hub(clf, str(tmp_path / "preset"), task="classifier")
    assert result["task"] == "AlbertTextClassifier" and result["note"] is None
    loaded = keras_hub.models.TextClassifier.from_preset(str(tmp_path / "preset"))
    assert isinstance(loaded, keras_hub.models.AlbertTextClassifier)
    want = np.asarray(clf.predict(sentences, verbose=0)["logits"])
    got = np.asarray(loaded.predict(sentences, verbose=0))
    assert np.abs(want).max() > 0.1  # a head that moves the logits, so a lost head would show
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_keras_hub_non_matching_head_falls_back_or_refuses(hf_folders, tmp_path, capsys):
    """Mean pooling has no keras-hub task class: backbone + tokenizer with one line saying so, or a
    one-line refusal when the task class was asked for."""
    import keras_hub

    from kbert import cli
    from kbert.model_dir import save_model_dir

    model, ck = _task_model("bert", hf_folders["bert"], "classify", "mean")
    md = save_model_dir(tmp_path / "md", model, ck.tokenizer, task="classify", seq_len=32, labels=["a", "b", "c"])
    out = str(tmp_path / "preset")
    assert cli.main(["export", "keras-hub", "--model", str(md), "--out", out, "--task", "classifier"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no keras-hub task class" in err[0] and "mean pooling" in err[0]
    assert not os.path.exists(out)
    assert cli.main(["export", "keras-hub", "--model", str(md), "--out", out]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("backbone and tokenizer only:") and "mean pooling" in lines[-1]
    assert not os.path.exists(os.path.join(out, "task.json"))
    assert type(keras_hub.models.Backbone.from_preset(out)).__name__ == "BertBackbone"
