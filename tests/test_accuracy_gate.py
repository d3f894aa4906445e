"""The accuracy gate's statistics on constructed outputs (no model, milliseconds)."""

import numpy as np
import pytest

from kbert.export import accuracy_gate


def _keras_like(n=1000, ties=20, seed=0):
    """Softmax outputs of a 3-class "Keras model" (80% accurate) with `ties` near ties, and labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.8, y, (y + 1) % 3)
    probs = np.full((n, 3), 0.1)
    probs[np.arange(n), pred] = 0.8
    tie = rng.choice(n, ties, replace=False)
    probs[tie] = 0.0
    probs[tie, pred[tie]] = 0.5002
    probs[tie, (pred[tie] + 1) % 3] = 0.4998
    return probs, y, tie


def test_float16_like_candidate_differing_only_on_near_ties_passes():
    keras_probs, y, tie = _keras_like()
    lite = keras_probs + np.random.default_rng(1).normal(0, 1e-4, keras_probs.shape)  # fp16-sized noise
    flip = tie[:5]  # five near ties flip to the runner-up: some were right, now wrong
    for i in flip:
        a, b = np.argsort(keras_probs[i])[-2:][::-1]
        lite[i, a], lite[i, b] = keras_probs[i, b], keras_probs[i, a]
    r = accuracy_gate.judge_classification(keras_probs, lite, y)
    assert r["near_ties"] == 20 and r["agreement"] == pytest.approx(0.995)
    assert r["agreement_excluding_ties"] == 1.0  # flips inside the fixed Keras margin are not counted
    assert r["metric_drop_ci95"][1] <= 1.0 and r["passed"], r


def test_candidate_that_really_loses_accuracy_is_refused():
    keras_probs, y, _ = _keras_like()
    lite = keras_probs.copy()
    right = np.where(keras_probs.argmax(-1) == y)[0][:25]  # 25 confident correct answers become wrong
    lite[right] = np.roll(lite[right], 1, axis=1)
    r = accuracy_gate.judge_classification(keras_probs, lite, y)
    assert r["metric_drop_points"] == pytest.approx(2.5)
    assert r["metric_drop_ci95"][0] > 1.0 and not r["passed"]
    assert "may lose up to" in accuracy_gate.refusal_message("x.tflite", "int8", r, 1.0)


def test_one_point_drop_refused_half_point_needs_power():
    keras_probs, y, _ = _keras_like(n=1000, ties=0)
    right = np.where(keras_probs.argmax(-1) == y)[0]
    lite = keras_probs.copy()
    lite[right[:5]] = np.roll(lite[right[:5]], 1, axis=1)  # 0.5 point lost on 1,000 examples
    r = accuracy_gate.judge_classification(keras_probs, lite, y)
    lo, hi = r["metric_drop_ci95"]
    assert lo < 0.5 < hi and r["passed"] == (hi <= 1.0)
    # the same proportions on 100 examples: the interval is far wider and the gate refuses
    small = accuracy_gate.judge_classification(keras_probs[:100], keras_probs[:100], y[:100])
    assert small["metric_drop_ci95"][1] > 1.0 and not small["passed"]


def test_fixed_tie_margin_comes_from_keras_not_candidate():
    keras_probs = np.array([[0.6, 0.4]] * 300)
    lite = np.array([[0.5001, 0.4999]] * 300)
    lite[:30] = [0.4999, 0.5001]  # the candidate is near a tie, Keras is not: these flips count
    r = accuracy_gate.judge_classification(keras_probs, lite)
    assert r["near_ties"] == 0 and r["agreement_excluding_ties"] == pytest.approx(0.9)
    assert r["metric_drop_points"] == pytest.approx(10.0) and not r["passed"]


def test_entity_f1_and_qa_f1_bootstrap():
    names = ["O", "B-x", "I-x"]
    gold = [[0, 1, 2, 0]] * 50 + [[1, 0, 0, -100]] * 50
    keras_pred = np.array(gold)
    keras_pred[keras_pred < 0] = 0
    batch = {"ids": np.zeros((100, 4), "int32"), "mask": np.ones((100, 4), "int32"),
             "segment_ids": np.zeros((100, 4), "int32")}
    onehot = np.eye(3)[keras_pred]
    same = accuracy_gate.judge("ner", {"logits": onehot}, {"logits": onehot}, batch, gold, label_names=names)
    assert same["metric"] == "entity F1" and same["metric_drop_points"] == 0 and same["passed"]
    worse = onehot.copy()
    worse[:40, 1] = np.eye(3)[0]  # 40 of 100 entities lost
    r = accuracy_gate.judge("ner", {"logits": onehot}, {"logits": worse}, batch, gold, label_names=names)
    assert r["metric_drop_ci95"][0] > 10 and not r["passed"]
    assert accuracy_gate.token_f1((3, 5), (4, 6)) == pytest.approx(2 / 3)
