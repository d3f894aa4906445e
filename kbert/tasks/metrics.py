"""Evaluation metrics for fine-tuned models, in plain NumPy / Python.

    >>> from kbert.tasks import metrics
    >>> metrics.accuracy([0, 1, 2], [0, 1, 1])
    0.6666666666666666
    >>> metrics.entity_f1([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])["f1"]
    1.0
    >>> metrics.squad_scores(["The Eiffel Tower"], [["Eiffel tower"]])
    {'exact_match': 100.0, 'f1': 100.0}

- `accuracy`, `macro_f1` (unweighted mean of per-class F1 over the classes in `labels` or seen in
  either array; scikit-learn's `f1_score(average="macro")`), `confusion_matrix`.
- `entity_f1`: entity-level precision/recall/F1 with seqeval's default (conlleval) semantics: an
  entity is a maximal B-/I- chunk, an I- after O or after another type starts a new entity, and a
  prediction counts only when type, start and end all match. Tested against `seqeval`.
- `squad_scores`: the official SQuAD v1.1/v2.0 evaluation: lower-case, strip punctuation and the
  articles a/an/the, collapse whitespace; EM and token-F1 take the max over the gold answers; an
  unanswerable question (gold `[""]` or `[]`) scores 1 only for an empty prediction.
"""

from __future__ import annotations

import collections
import re
import string

import numpy as np


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else 0.0


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    m = np.zeros((num_classes, num_classes), "int64")
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def per_class_f1(y_true, y_pred, labels) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = []
    for c in labels:
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        out.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return np.asarray(out, "float64")


def macro_f1(y_true, y_pred, labels=None) -> float:
    labels = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist())) if labels is None else labels
    return float(per_class_f1(y_true, y_pred, labels).mean()) if len(labels) else 0.0


# ---------------------------------------------------------------- entities


def _chunk_end(prev_tag, tag, prev_type, typ) -> bool:
    return (prev_tag in ("E", "S") or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
            or (prev_tag not in ("O", ".") and prev_type != typ))


def _chunk_start(prev_tag, tag, prev_type, typ) -> bool:
    return (tag in ("B", "S") or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
            or (tag not in ("O", ".") and prev_type != typ))


def get_entities(tags) -> list[tuple[str, int, int]]:
    """`(type, start, end)` chunks (end inclusive): seqeval's `get_entities` (prefix tags, IOB1/IOB2/IOBES)."""
    entities = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate(list(tags) + ["O"]):
        tag = chunk[0]
        typ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
        if _chunk_end(prev_tag, tag, prev_type, typ):
            entities.append((prev_type, begin, i - 1))
        if _chunk_start(prev_tag, tag, prev_type, typ):
            begin = i
        prev_tag, prev_type = tag, typ
    return entities


def entity_f1(y_true, y_pred) -> dict:
    """Micro entity-level P/R/F1 over sentences of tags, plus `per_type` F1 and counts."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold sentences but {len(y_pred)} predicted")
    gold, pred = set(), set()
    for n, (t, p) in enumerate(zip(y_true, y_pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {n}: {len(t)} gold tags but {len(p)} predicted")
        gold |= {(n, *e) for e in get_entities(t)}
        pred |= {(n, *e) for e in get_entities(p)}
    tp = len(gold & pred)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_type = {}
    for typ in sorted({e[1] for e in gold | pred}):
        g = {e for e in gold if e[1] == typ}
        p = {e for e in pred if e[1] == typ}
        k = len(g & p)
        per_type[typ] = {"f1": 2 * k / (len(g) + len(p)) if g or p else 0.0, "support": len(g)}
    return {"precision": precision, "recall": recall, "f1": f1, "gold": len(gold), "predicted": len(pred),
            "correct": tp, "per_type": per_type}


# ---------------------------------------------------------------- SQuAD


def normalize_answer(s: str) -> str:
    """Official SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:  # SQuAD v2: both empty -> 1, one empty -> 0
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, golds) -> dict:
    """Mean EM and F1 (in %, as the official script) over questions; `golds[i]` lists the gold answers."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} questions")
    em = f1 = 0.0
    for pred, answers in zip(predictions, golds):
        answers = [a for a in answers if normalize_answer(a)] or [""]
        em += max(exact_match(pred, a) for a in answers)
        f1 += max(token_f1(pred, a) for a in answers)
    n = max(len(predictions), 1)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n}
