"""TFLite export: modes, names, outputs against Keras, the accuracy gate, metadata, atomic writes, CLI."""

import json
import os

import keras
import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.export import accuracy_gate, metadata, model_card, tflite

SEQ = 32
LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def tokenizer():
    vocab = kbert.tokenizers.read_vocab(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"))
    return kbert.tokenizers.wordpiece(vocab)


@pytest.fixture(scope="module")
def classifier():
    from kbert.tasks.classifier import build_classifier

    keras.utils.set_random_seed(1)
    clf = build_classifier(kbert.models.backbone("bert_tiny"), num_classes=2)
    # a sharper head, so that float rounding cannot flip near-ties
    dense = clf.get_layer("logits")
    dense.kernel.assign(dense.kernel * 50.0)
    return clf


@pytest.fixture(scope="module")
def texts():
    return accuracy_gate.sentiment_sentences(24)


@pytest.fixture(scope="module")
def float_export(classifier, tokenizer, texts, tmp_path_factory):
    out = tmp_path_factory.mktemp("f32") / "clf.tflite"
    return tflite.export(classifier, str(out), mode="float32", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                         heldout=texts[0], heldout_labels=texts[1], latency_runs=3)


def test_float32_matches_keras_and_names(float_export, classifier, tokenizer, texts):
    rep = float_export.card["accuracy_vs_float"]
    assert rep["agreement"] == 1.0 and rep["max_abs_diff"] < 1e-4 and rep["metric_drop_points"] == 0.0
    names = metadata.tensor_names(float_export.content)
    assert names["inputs"] == {"ids": "serving_default_ids:0", "mask": "serving_default_mask:0",
                               "segment_ids": "serving_default_segment_ids:0"}
    assert names["outputs"] == ["probability"]
    interp = accuracy_gate.interpreter(float_export.content)
    for d in interp.get_input_details():
        assert list(d["shape"]) == [1, SEQ] and d["dtype"] == np.int32
    assert tflite.check_builtin_only(float_export.content) == []
    # probabilities sum to one and follow the Keras logits
    feed = tflite.representative_inputs(tokenizer, texts[0][:3], SEQ)
    outs, _ = accuracy_gate.run_tflite(float_export.content, feed)
    logits = np.concatenate([np.asarray(classifier({"token_ids": f["ids"], "padding_mask": f["mask"],
                                                    "segment_ids": f["segment_ids"]})["logits"]) for f in feed])
    probs = np.concatenate([o["probability"] for o in outs])
    np.testing.assert_allclose(probs, keras.ops.convert_to_numpy(keras.ops.softmax(logits)), atol=1e-5)


def test_model_card_next_to_file(float_export):
    md_path, json_path = model_card.card_paths(float_export.path)
    card = json.load(open(json_path))
    assert card["mode"] == "float32" and card["size_bytes"] == os.path.getsize(float_export.path)
    assert card["labels"] == LABELS and card["gate"]["passed"]
    assert "latency_ms" in card["accuracy_vs_float"]
    text = open(md_path).read()
    assert "float32" in text and "agreement" in text


def test_classifier_metadata(float_export):
    info = metadata.describe(float_export.content)
    assert info["input_names"] == ["ids", "segment_ids", "mask"] or set(info["input_names"]) == {
        "ids", "mask", "segment_ids"}
    assert info["output_names"] == ["probability"]
    assert set(info["files"]) == {"labels.txt", "vocab.txt"}
    assert info["tokenizer"] == ["BertTokenizerOptions"]


@pytest.mark.parametrize("mode", ["float16", "dynamic-int8", "int8"])
def test_quantized_modes_are_smaller(classifier, tokenizer, float_export, mode):
    rep = accuracy_gate.default_inputs(tokenizer, "classify", SEQ, None, kind="representative")[:8]
    content = tflite.convert(classifier, mode, "classify", SEQ, representative=rep)
    f32 = tflite.convert(classifier, "float32", "classify", SEQ)
    ratio = len(content) / len(f32)
    assert ratio < {"float16": 0.55, "dynamic-int8": 0.3, "int8": 0.3}[mode], ratio
    outs, _ = accuracy_gate.run_tflite(content, rep[:2])
    assert np.all(np.isfinite(outs[0]["probability"]))


def test_dynamic_int8_dense_is_per_tensor(classifier):
    """Task Library 0.4.4 cannot load the per-channel FULLY_CONNECTED v12 kernel."""
    from tensorflow.lite.python import schema_py_generated as schema

    content = tflite.convert(classifier, "dynamic-int8", "classify", SEQ)
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(content), 0))
    fc = [c for c in m.operatorCodes if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.FULLY_CONNECTED]
    assert fc and all(c.version < 12 for c in fc), [c.version for c in fc]


def test_gate_refuses_and_force_writes(classifier, tokenizer, texts, tmp_path):
    out = tmp_path / "clf.tflite"
    with pytest.raises(accuracy_gate.AccuracyGateError) as e:
        tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                      heldout=texts[0][:8], threshold=-0.5, latency_runs=0)
    msg = str(e.value)
    assert "refusing" in msg and "agreement=" in msg and "threshold -0.5" in msg
    assert isinstance(e.value, KbertInputError)
    assert not os.listdir(tmp_path)  # nothing written, no temp files
    res = tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                        heldout=texts[0][:8], threshold=-0.5, force=True, latency_runs=0)
    assert os.path.exists(out) and res.card["gate"] == {"threshold_points": -0.5, "passed": False, "forced": True}


def test_gate_refuses_label_flips_that_cancel_in_accuracy(classifier, tokenizer, texts, tmp_path):
    # With held-out labels the accuracy drop can be 0 while labels flip both ways; the agreement floor
    # catches that. float16 agrees on every input, so a floor above 100% must refuse it, naming the agreement.
    out = tmp_path / "clf.tflite"
    with pytest.raises(accuracy_gate.AccuracyGateError, match=r"top label on only 100\.0% of 8 held-out"):
        tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                      heldout=texts[0][:8], heldout_labels=texts[1][:8], min_agreement=1.01, latency_runs=0)
    res = tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                        heldout=texts[0][:8], heldout_labels=texts[1][:8], latency_runs=0)
    assert res.passed and res.card["accuracy_vs_float"]["agreement"] == 1.0


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old complete file")

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        tflite.atomic_write(str(target), b"x" * 1000)
    assert target.read_bytes() == b"old complete file"
    assert os.listdir(tmp_path) == ["model.tflite"]
    monkeypatch.undo()
    fresh = tmp_path / "fresh.tflite"
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        tflite.atomic_write(str(fresh), b"x" * 1000)
    assert not fresh.exists()


def test_qa_and_embed_metadata(tokenizer):
    from kbert.tasks.embedder import build_embedder

    enc = kbert.models.backbone("bert_tiny")
    ins = {n: keras.Input((None,), dtype="int32", name=n) for n in ("token_ids", "padding_mask", "segment_ids")}
    scores = keras.layers.Dense(2)(enc(ins)["sequence_output"])
    qa = keras.Model(ins, {"start_logits": scores[..., 0], "end_logits": scores[..., 1]})
    content = metadata.add_metadata(tflite.convert(qa, "float32", "qa", 384), "qa", tokenizer, seq_len=384)
    info = metadata.describe(content)
    assert set(info["output_names"]) == {"start_logits", "end_logits"}
    assert metadata.tensor_names(content)["outputs"] == info["output_names"]
    assert info["name"] == "BertQuestionAnswerer" and info["files"] == ["vocab.txt"]
    interp = accuracy_gate.interpreter(content)
    assert [list(d["shape"]) for d in interp.get_input_details()] == [[1, 384]] * 3
    emb = build_embedder(enc)
    info = metadata.describe(metadata.add_metadata(tflite.convert(emb, "float32", "embed", SEQ), "embed", tokenizer))
    assert info["output_names"] == ["embeddings"] and info["tokenizer"] == ["BertTokenizerOptions"]


def test_distilbert_keeps_segment_input():
    from kbert.tasks.classifier import build_classifier

    clf = build_classifier(kbert.models.backbone("distilbert_tiny"), num_classes=3)
    names = metadata.tensor_names(tflite.convert(clf, "float32", "classify", SEQ))
    assert set(names["inputs"]) == {"ids", "mask", "segment_ids"}


def test_albert_shared_weights_stored_once():
    enc = kbert.models.backbone("albert_tiny")
    content = tflite.convert(enc, "float32", "encoder", SEQ)
    param_bytes = 4 * enc.count_params()
    assert len(content) <= 1.0 * param_bytes, (len(content), param_bytes)
    # and not merely "small": unsharing would multiply the layer weights by num_layers
    assert len(content) > 0.8 * param_bytes


def test_no_folded_attention_mask_constant():
    """With dropout 0 Keras' attention ANDs the mask with ones_like(scores), which the converter folds
    into an all-true [1, heads, seq, seq] constant; `convert` traces the explicit masked softmax instead."""
    import keras
    from tensorflow.lite.python import schema_py_generated as schema

    enc = kbert.models.backbone("bert_tiny", dropout=0.0)
    content = tflite.convert(enc, "float32", "encoder", SEQ)
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(content), 0))
    constants = [list(t.shape) for t in m.subgraphs[0].tensors
                 if m.buffers[t.buffer].data is not None and len(m.buffers[t.buffer].data)]
    assert constants and not [s for s in constants if len(s) == 4 and s[-2:] == [SEQ, SEQ]], constants
    attention = [la for la in enc._flatten_layers() if isinstance(la, keras.layers.MultiHeadAttention)]
    assert attention and all(la._dropout == 0.0 for la in attention)  # the model itself is left as it was


def test_bad_input_errors(classifier):
    with pytest.raises(KbertInputError, match="unknown mode"):
        tflite.convert(classifier, "int4")
    with pytest.raises(KbertInputError, match="representative"):
        tflite.convert(classifier, "int8", "classify", SEQ)
    with pytest.raises(KbertInputError, match="not a kbert model directory"):
        tflite.export("/nonexistent-dir", "/tmp/x.tflite")
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(KbertInputError):
        tflite.convert(plain, "float32", "classify", SEQ)


def test_cli_export(classifier, tokenizer, tmp_path):
    from kbert.cli import main
    from kbert.model_dir import save_model_dir

    d = save_model_dir(str(tmp_path / "clf"), classifier, tokenizer, task="classify", seq_len=SEQ, labels=LABELS,
                       pair=False, multi_label=False)
    heldout = tmp_path / "heldout.tsv"
    texts, ys = accuracy_gate.sentiment_sentences(10)
    heldout.write_text("".join(f"{LABELS[y]}\t{t}\n" for t, y in zip(texts, ys)))
    out = tmp_path / "out" / "clf.tflite"
    code = main(["--quiet", "export", "tflite", "--model", d, "--mode", "dynamic-int8", "--out", str(out),
                 "--seq-len", str(SEQ), "--heldout", str(heldout)])
    assert code == 0 and out.exists()
    card = json.load(open(tmp_path / "out" / "clf.json"))
    assert card["mode"] == "dynamic-int8" and card["accuracy_vs_float"]["metric"] == "accuracy"
    refused = tmp_path / "out" / "refused.tflite"
    code = main(["--quiet", "export", "tflite", "--model", d, "--out", str(refused), "--seq-len", str(SEQ),
                 "--heldout", str(heldout), "--max-drop", "-1"])
    assert code == 2 and not refused.exists()
