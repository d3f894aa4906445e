"""TFLite export: modes, names, outputs against Keras, the accuracy gate, metadata, the deployment card,
atomic publishing, CLI."""

import json
import os

import keras
import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.export import accuracy_gate, litert, metadata, model_card, tflite

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
    # all 200 labelled sentences of the bundled file: just enough for the paired non-inferiority rule
    # to pass an exact copy (upper end 1.96 / 202 x 100 = 0.97 points); 24 could not (7.5 points).
    return accuracy_gate.sentiment_sentences(200)


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
    interp = litert.interpreter(float_export.content)
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


def test_model_card_next_to_file(float_export, texts):
    md_path, json_path = model_card.card_paths(float_export.path)
    card = json.load(open(json_path))
    assert card["mode"] == "float32" and card["size_bytes"] == os.path.getsize(float_export.path)
    assert card["labels"] == LABELS and card["gate"]["passed"] and "warning" not in card
    rep = card["accuracy_vs_float"]
    assert "latency_ms" in rep and rep["examples"] == len(texts[0]) and rep["metric"] == "accuracy"
    assert rep["metric_drop_ci95"][1] < 1.0 and card["heldout"]["kind"] == "labelled"
    import hashlib

    assert card["sha256"] == hashlib.sha256(open(float_export.path, "rb").read()).hexdigest()
    dep = card["deployment"]
    ops = {o["op"]: o["version"] for o in dep["ops"]}
    assert ops["FULLY_CONNECTED"] >= 1 and "SOFTMAX" in ops and dep["min_runtime_version"].startswith("2.")
    # each op's own minimum runtime; the newest of them is the file's (the converter's metadata)
    from kbert.export.op_versions import newest

    assert all(o["min_runtime"] for o in dep["ops"]), dep["ops"]
    assert newest(o["min_runtime"] for o in dep["ops"]) == dep["min_runtime_version"]
    assert dep["load_ms"] > 0 and dep["peak_memory_mb"] > 0 and 0 < dep["xnnpack_share"] <= 1
    assert card["training_data"]["licence"] == "not recorded"
    text = open(md_path).read()
    assert text.startswith("# clf.tflite") and "float32" in text and "agreement" in text
    assert "not on ARM" in text and "FULLY_CONNECTED" in text and card["sha256"] in text
    # the gate through MediaPipe's own tokenizer, on the raw held-out strings
    (check,) = card["runtime_checks"].values()
    assert check["runtime"].startswith("mediapipe") and check["passed"] and check["examples"] == len(texts[0])
    assert check["same_label_as_keras"] >= 0.99


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


def _fc_versions(content):
    return [v for name, v, _ in litert.op_codes(content) if name == "FULLY_CONNECTED"]


def test_dynamic_int8_per_channel_by_runtime(classifier):
    """MediaPipe / LiteRT (default) get per-channel dense weights (FULLY_CONNECTED v12); the Task
    Library 0.4.4 cannot load that kernel, so runtime="tasklib" gets per-tensor weights."""
    tasklib = tflite.convert(classifier, "dynamic-int8", "classify", SEQ, runtime="tasklib")
    assert _fc_versions(tasklib) and all(v < 12 for v in _fc_versions(tasklib)), _fc_versions(tasklib)
    default = tflite.convert(classifier, "dynamic-int8", "classify", SEQ)
    assert max(_fc_versions(default)) >= 12, _fc_versions(default)
    from kbert.export.op_versions import min_runtime

    assert tuple(map(int, min_runtime("FULLY_CONNECTED", max(_fc_versions(default))).split("."))) >= (2, 17, 0)


def test_gate_refuses_and_force_writes(classifier, tokenizer, texts, tmp_path):
    out = tmp_path / "clf.tflite"
    with pytest.raises(accuracy_gate.AccuracyGateError) as e:
        tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                      heldout=texts[0][:8], threshold=-0.5, latency_runs=0, deployment=False)
    msg = str(e.value)
    assert "refusing" in msg and "agreement=" in msg and "threshold -0.5" in msg
    assert isinstance(e.value, KbertInputError)
    assert not os.listdir(tmp_path)  # nothing written, no temp files
    res = tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                        heldout=texts[0][:8], threshold=-0.5, force=True, latency_runs=0, deployment=False)
    assert os.path.exists(out) and res.card["gate"] == {"threshold_points": -0.5, "passed": False, "forced": True}
    md_path, json_path = model_card.card_paths(out)
    assert open(md_path).readline().startswith("gate failed")
    assert next(iter(json.load(open(json_path)))) == "warning"
    assert "no statistical power" in res.card["heldout"]["description"]


def test_gate_refuses_label_flips_that_cancel_in_accuracy(classifier, tokenizer, texts, tmp_path):
    # With held-out labels the accuracy drop can be 0 while labels flip both ways; the agreement floor
    # catches that. float16 agrees on every input, so a floor above 100% must refuse it, naming the agreement.
    out = tmp_path / "clf.tflite"
    with pytest.raises(accuracy_gate.AccuracyGateError, match=r"top label on only 100\.0% of 8 held-out"):
        tflite.export(classifier, str(out), mode="float16", seq_len=SEQ, tokenizer=tokenizer, labels=LABELS,
                      heldout=texts[0][:8], heldout_labels=texts[1][:8], min_agreement=1.01, latency_runs=0,
                      deployment=False)


def test_gate_without_power_refuses_a_small_labelled_set(classifier, tokenizer, texts, tmp_path):
    """An exact float copy on 24 labelled sentences: the interval's upper end is ~7.5 points, so the
    gate cannot show a drop <= 1 point and says so."""
    with pytest.raises(accuracy_gate.AccuracyGateError, match=r"may lose up to 7\.\d+ points of accuracy"):
        tflite.export(classifier, str(tmp_path / "clf.tflite"), mode="float32", seq_len=SEQ, tokenizer=tokenizer,
                      labels=LABELS, heldout=texts[0][:24], heldout_labels=texts[1][:24], latency_runs=0,
                      deployment=False, check_runtime_tokenizer=False)


def test_gate_refuses_a_model_that_really_loses_accuracy(classifier, tokenizer, texts, tmp_path, monkeypatch):
    """The candidate is another model: the same classifier with its head biased towards "negative",
    converted to TFLite. The labels are the Keras model's own answers (an untrained model is at chance
    on real labels and cannot lose accuracy); ~5% of them flip, which the gate must refuse."""
    twin = keras.models.clone_model(classifier)
    twin.set_weights(classifier.get_weights())
    feeds = tflite.tokenize(tokenizer, texts[0], SEQ)
    logits = np.asarray(classifier({"token_ids": feeds["ids"], "padding_mask": feeds["mask"],
                                    "segment_ids": feeds["segment_ids"]})["logits"])
    truth = logits.argmax(-1)
    gap = logits[:, 1] - logits[:, 0]
    bias = twin.get_layer("logits").bias
    bias.assign(bias.numpy() + np.array([0.0, -float(np.quantile(gap[gap > 0], 0.1))], "float32"))
    real_convert = tflite.convert
    monkeypatch.setattr(tflite, "convert", lambda model, *a, **k: real_convert(twin, *a, **k))
    with pytest.raises(accuracy_gate.AccuracyGateError, match="may lose up to") as e:
        tflite.export(classifier, str(tmp_path / "clf.tflite"), mode="float16", seq_len=SEQ, tokenizer=tokenizer,
                      labels=LABELS, heldout=texts[0], heldout_labels=truth, latency_runs=0, deployment=False,
                      check_runtime_tokenizer=False)
    rep = e.value.card["accuracy_vs_float"]
    assert rep["keras_metric"] == 1.0 and 0.9 <= rep["agreement"] < 0.99, rep
    assert rep["metric_drop_ci95"][0] > 0 and rep["metric_drop_ci95"][1] > 1.0


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
    interp = litert.interpreter(content)
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
    # the float graph's masked softmax is ADD/MUL (XNNPACK), not SELECT_V2 (LiteRT's reference kernel)
    ops = {name for name, _, _ in litert.op_codes(content)}
    assert "SELECT_V2" not in ops and {"ADD", "MUL", "SOFTMAX"} <= ops, ops
    assert all("call" not in vars(la._softmax) for la in attention)


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


def test_cli_export(classifier, tokenizer, texts, tmp_path):
    from kbert.cli import main
    from kbert.model_dir import save_model_dir

    d = save_model_dir(str(tmp_path / "clf"), classifier, tokenizer, task="classify", seq_len=SEQ, labels=LABELS,
                       pair=False, multi_label=False)
    heldout = tmp_path / "heldout.tsv"
    heldout.write_text("".join(f"{LABELS[y]}\t{t}\n" for t, y in zip(*texts)))
    out = tmp_path / "out" / "clf.tflite"
    # no --seq-len: the length the model directory records
    code = main(["--quiet", "export", "tflite", "--model", d, "--mode", "dynamic-int8", "--out", str(out),
                 "--heldout", str(heldout)])
    assert code == 0 and out.exists()
    card = json.load(open(tmp_path / "out" / "clf.json"))
    assert card["mode"] == "dynamic-int8" and card["accuracy_vs_float"]["metric"] == "accuracy"
    # the held-out movie sentences' p99 is longer than SEQ: the trained length, with the data's figure
    assert card["seq_len"] == SEQ and card["seq_len_source"].startswith("the trained length; p99 of 200 held-out")
    assert card["trained_seq_len"] == SEQ and card["data_length"]["rounded"] == SEQ
    assert card["runtime"] == "mediapipe" and card["quantization"] == "per-channel"
    assert sorted(os.listdir(tmp_path / "out")) == ["clf.json", "clf.md", "clf.tflite"]
    small = tmp_path / "small.tsv"
    small.write_text("".join(f"{LABELS[y]}\t{t}\n" for t, y in zip(texts[0][:20], texts[1][:20])))
    refused = tmp_path / "out" / "refused.tflite"
    code = main(["--quiet", "export", "tflite", "--model", d, "--out", str(refused), "--heldout", str(small)])
    assert code == 2 and not refused.exists()


def test_data_seq_len_is_the_p99_rounded_up_to_8_and_never_above_the_trained_length():
    from kbert.export.tflite_spec import data_seq_len

    # 1,000 texts: 995 of 10 tokens, 5 long ones: the 99th percentile is an observed length, 10 -> 16
    n, why = data_seq_len([10] * 995 + [41] * 3 + [60] * 2, cap=64)
    assert (n, why["tokens"], why["examples"], why["cap"]) == (16, 10, 1000, 64)
    assert why["description"] == "p99 of 1,000 held-out texts = 10 tokens -> 16"
    # 2% long texts: they are inside the 99th percentile, 41 -> 48
    assert data_seq_len([10] * 980 + [41] * 20, cap=64)[0] == 48
    assert data_seq_len([40] * 100, cap=64)[0] == 40  # a multiple of 8 stays
    assert data_seq_len([57] * 100, cap=64)[0] == 64  # rounded up to the cap ...
    assert data_seq_len([61] * 100, cap=62)[0] == 62  # ... never beyond it, even off the multiple
    n, why = data_seq_len([200, 300, 500], cap=128)  # longer than the cap: counted at the cap
    assert n == 128 and why["description"] == "p99 of 3 held-out texts >= 128 tokens -> 128"
    assert data_seq_len([2, 2], cap=64)[0] == 8
    assert data_seq_len([], cap=64) == (64, None)


def test_export_at_the_data_p99_length_when_shorter_than_trained(classifier, tokenizer, texts, tmp_path):
    """Short held-out texts: the file is exported at their p99 length, the card says why; --seq-len
    trained forces the trained length."""
    from kbert.cli import main
    from kbert.model_dir import save_model_dir

    d = save_model_dir(str(tmp_path / "clf"), classifier, tokenizer, task="classify", seq_len=SEQ, labels=LABELS,
                       pair=False, multi_label=False)
    short = [" ".join(t.split()[:4]) for t in texts[0]]
    lengths = tflite.token_lengths(tokenizer, short, SEQ)
    p99 = int(np.percentile(lengths, 99, method="higher"))
    expected = -(-p99 // 8) * 8
    assert expected < SEQ
    heldout = tmp_path / "heldout.tsv"
    heldout.write_text("".join(f"{LABELS[y]}\t{t}\n" for t, y in zip(short, texts[1])))
    out = tmp_path / "short.tflite"
    args = ["--quiet", "export", "tflite", "--model", d, "--heldout", str(heldout), "--runtime", "litert"]
    assert main([*args, "--out", str(out)]) == 0
    card = json.load(open(tmp_path / "short.json"))
    assert card["seq_len"] == expected and card["trained_seq_len"] == SEQ
    assert card["data_length"]["tokens"] == p99 and card["data_length"]["examples"] == len(short)
    assert card["seq_len_source"] == f"p99 of {len(short)} held-out texts = {p99} tokens -> {expected} (trained at {SEQ})"
    assert card["gate"]["passed"] and card["accuracy_vs_float"]["examples"] == len(short)
    assert [list(x["shape"]) for x in litert.interpreter(out.read_bytes()).get_input_details()] == [[1, expected]] * 3
    assert f"| sequence length | {expected} (p99 of" in (tmp_path / "short.md").read_text()
    forced = tmp_path / "forced.tflite"
    assert main([*args, "--out", str(forced), "--seq-len", "trained"]) == 0
    card = json.load(open(tmp_path / "forced.json"))
    assert card["seq_len"] == SEQ and card["seq_len_source"] == "the trained length (forced)"
    assert card["data_length"] is None


@pytest.mark.parametrize("argv, message", [
    (["--seq-len", "100000"], "beyond the model's maximum of 512"),
    (["--seq-len", "0"], "must be at least 3"),
    (["--seq-len", "long"], "--seq-len long: expected a whole number or 'trained'"),
    (["--runtime", "coreml"], "--runtime coreml: unknown runtime; expected one of mediapipe, litert, tasklib"),
])
def test_cli_bad_export_arguments(classifier, tokenizer, tmp_path, capsys, argv, message):
    from kbert.cli import main
    from kbert.model_dir import save_model_dir

    d = str(tmp_path / "clf")
    if argv[0] == "--seq-len" and argv[1] == "100000":
        save_model_dir(d, classifier, tokenizer, task="classify", seq_len=SEQ, labels=LABELS)
    else:
        os.makedirs(d)
    try:
        code = main(["export", "tflite", "--model", d, "--out", str(tmp_path / "x.tflite"), *argv])
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.tflite").exists()


def test_tasklib_runtime_gets_per_tensor_and_is_checked_in_the_task_library(classifier, tokenizer, texts, tmp_path):
    from kbert.export import runtime_check

    if not os.path.exists(runtime_check.tasklib_python()):
        pytest.skip(".venv-tasklib is not built (scripts/make_tasklib_venv.sh)")
    res = tflite.export(classifier, str(tmp_path / "clf.tflite"), mode="dynamic-int8", seq_len=SEQ,
                        tokenizer=tokenizer, labels=LABELS, heldout=texts[0][:60], runtime="tasklib", force=True,
                        latency_runs=0, deployment=False)
    assert res.card["runtime"] == "tasklib" and res.card["quantization"] == "per-tensor"
    assert all(v < 12 for v in _fc_versions(res.content))
    (check,) = res.card["runtime_checks"].values()
    assert check["runtime"] == "tasklib 0.4.4" and check["examples"] == 60 and check["passed"], check


def test_sentencepiece_normalisation_must_match_the_packed_model():
    from kbert import tokenizer_training
    from kbert.export import runtime_check

    spm_tok = tokenizer_training.train_sentencepiece("bundled", vocab_size=300, max_documents=4)
    assert runtime_check.sentencepiece_normalisation(spm_tok, ["A Walk In The Park."])["passed"]

    class StrippingAccentsOutside:  # normalises before SentencePiece, outside spiece.model
        proto = spm_tok.proto

        def __call__(self, text):
            import unicodedata

            return spm_tok("".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)))

    with pytest.raises(KbertInputError, match="tokenize differently from training"):
        runtime_check.sentencepiece_normalisation(StrippingAccentsOutside(), ["Café naïve"])
    assert runtime_check.sentencepiece_normalisation(tokenizer) is None  # WordPiece: nothing to check


def _unk_share_classifier():
    """A contract-conforming "classifier" whose label says whether over 30% of its tokens are [UNK]
    (id 100): as sensitive to tokenization as a model can be."""
    ins = {n: keras.Input((None,), dtype="int32", name=n) for n in ("token_ids", "padding_mask", "segment_ids")}
    unk = keras.ops.sum(keras.ops.cast(keras.ops.equal(ins["token_ids"], 100), "float32"), axis=1, keepdims=True)
    share = unk / keras.ops.sum(keras.ops.cast(ins["padding_mask"], "float32"), axis=1, keepdims=True)
    return keras.Model(ins, {"logits": keras.ops.concatenate([0.3 - share, share - 0.3], axis=-1) * 20.0})


def test_runtime_tokenizer_mismatch_is_refused(tokenizer, texts, tmp_path):
    """Trained with a tokenizer that keeps case, shipped with an uncased vocabulary that MediaPipe's C++
    WordPiece lower-cases: on upper-case text the phone sees real words where training saw [UNK].
    The gate's Keras-vs-LiteRT comparison (kbert's tokens on both sides) cannot see it; the raw-string
    check in MediaPipe must, while the matching (uncased) tokenizer passes."""
    vocab = kbert.tokenizers.read_vocab(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"))
    cased = kbert.tokenizers.wordpiece(vocab, lowercase=False)
    model = _unk_share_classifier()
    mixed = [t.upper() if i % 2 else t for i, t in enumerate(texts[0])]
    common = dict(task="classify", mode="float32", seq_len=SEQ, labels=LABELS, heldout=mixed, latency_runs=0,
                  deployment=False)
    with pytest.raises(accuracy_gate.AccuracyGateError, match="its tokenizer does not match training"):
        tflite.export(model, str(tmp_path / "cased.tflite"), tokenizer=cased, **common)
    assert not os.listdir(tmp_path)
    res = tflite.export(model, str(tmp_path / "uncased.tflite"), tokenizer=tokenizer, **common)
    (check,) = res.card["runtime_checks"].values()
    assert check["same_label_as_keras"] == 1.0 and check["tokenizer_mismatches_excluding_ties"] == 0
