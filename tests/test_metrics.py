import random

import numpy as np
import pytest

from kbert.tasks import metrics


def test_accuracy_macro_f1_match_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert metrics.accuracy(y, p) == pytest.approx((y == p).mean())
    assert metrics.macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro"))
    m = metrics.confusion_matrix(y, p, 4)
    assert m.sum() == 200 and np.trace(m) == (y == p).sum()


def _random_tags(rng, n):
    pool = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "E-PER", "S-LOC"]
    return [rng.choice(pool) for _ in range(n)]


def test_entity_f1_matches_seqeval_on_random_sequences():
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.metrics.sequence_labeling import get_entities

    rng = random.Random(0)
    for _ in range(30):
        gold = [_random_tags(rng, rng.randint(1, 12)) for _ in range(8)]
        pred = [_random_tags(rng, len(g)) for g in gold]
        for g in gold:
            assert metrics.get_entities(g) == get_entities(g)
        r = metrics.entity_f1(gold, pred)
        assert r["f1"] == pytest.approx(f1_score(gold, pred))
        assert r["precision"] == pytest.approx(precision_score(gold, pred))
        assert r["recall"] == pytest.approx(recall_score(gold, pred))


def test_entity_f1_hand_example():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]  # PER boundary wrong -> only LOC correct
    r = metrics.entity_f1(gold, pred)
    assert (r["correct"], r["gold"], r["predicted"]) == (1, 2, 2)
    assert r["f1"] == 0.5
    with pytest.raises(ValueError, match="sentence 0"):
        metrics.entity_f1([["O"]], [["O", "O"]])


def test_squad_official_normalisation():
    assert metrics.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert metrics.normalize_answer("an apple, a pear") == "apple pear"
    s = metrics.squad_scores(["in Paris", "1850", "", "x"], [["Paris"], ["1850", "in 1850"], [""], []])
    # q1: EM 0, F1 2/3; q2: EM 1; q3: no-answer predicted empty -> 1; q4: no-answer but answered -> 0
    assert s["exact_match"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(100 * (2 / 3 + 1 + 1 + 0) / 4)
