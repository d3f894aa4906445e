"""bench/tflite_modes.py's per-mode measurement on a tiny model: the figures the full run reports
for the fine-tuned MiniLM (size, test accuracy with its interval, the gate's figures, latency)."""

import types

import keras
import numpy as np
import pytest

import kbert
from bench import tflite_modes
from kbert.export import accuracy_gate


def test_wilson_interval():
    assert tflite_modes.wilson(80, 100) == [0.7112, 0.8666]  # the textbook 95% Wilson interval of 80/100
    assert tflite_modes.wilson(0, 10)[0] == 0.0 and tflite_modes.wilson(10, 10)[1] == 1.0


@pytest.fixture(scope="module")
def tiny():
    from kbert.tasks.classifier import build_classifier

    keras.utils.set_random_seed(1)
    clf = build_classifier(kbert.models.backbone("bert_tiny"), num_classes=2)
    dense = clf.get_layer("logits")
    dense.kernel.assign(dense.kernel * 50.0)
    tok = kbert.tokenizers.wordpiece(kbert.tokenizers.read_vocab(f"{kbert.assets.minilm_dir()}/vocab.txt"))
    return clf, tok


def test_minilm_modes_reports_every_mode_with_intervals(tiny):
    clf, tok = tiny
    texts, ys = accuracy_gate.sentiment_sentences(60)
    split = lambda a, b: types.SimpleNamespace(texts=texts[a:b], y=np.asarray(ys[a:b]))  # noqa: E731
    train, val, test = split(0, 20), split(20, 40), split(40, 60)
    side = {}
    out = tflite_modes.minilm_modes(clf, tok, train, val, test, ["float32", "dynamic-int8-per-channel"], (16,), side)
    rows = out["16"]
    f32, q8 = rows["float32"], rows["dynamic-int8-per-channel"]
    keras_acc = rows["keras"]["test_accuracy"]
    # float32 is the Keras model: same test accuracy, no drop, full agreement on the validation split
    assert f32["test_accuracy"] == keras_acc and f32["test_drop_points"] == 0.0
    assert f32["gate"]["agreement_excluding_ties"] == 1.0 and f32["gate"]["examples"] == 20
    lo, hi = f32["test_accuracy_ci95"]
    assert lo < keras_acc < hi and hi - lo > 0.2  # 20 test sentences: a wide interval
    assert not f32["gate"]["passed"]  # 20 examples cannot show a drop <= 1 point (no power)
    assert q8["size_ratio"] < 0.5 and f32["size_ratio"] == 1.0
    # latency is measured for every mode and kept to the microsecond (bert_tiny at seq 16 in int8 runs in
    # under 0.05 ms on an AVX-512 machine)
    assert all(isinstance(m["latency_ms"], float) and m["latency_ms"] > 0 for m in (f32, q8))
    assert side == {}  # only seq 128 dynamic-int8 goes to the ORT side by side
    summary = tflite_modes.mode_summary(rows)
    assert "dynamic-int8-per-channel" in summary and "refused" in summary
