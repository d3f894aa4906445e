"""The accuracy gate: run a `.tflite` in the LiteRT interpreter on held-out real inputs, compare it
with the Keras model it came from, and refuse it unless it provably keeps the task metric.

    >>> import numpy as np
    >>> from kbert.export import accuracy_gate
    >>> keras_probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5004, 0.4996]] * 400)
    >>> lite_probs = keras_probs.copy(); lite_probs[2] = [0.4996, 0.5004]   # one near tie flips
    >>> labels = np.array([0, 1, 0] * 400)
    >>> r = accuracy_gate.judge_classification(keras_probs, lite_probs, labels)
    >>> r["passed"], r["near_ties"], r["agreement_excluding_ties"]
    (True, 400, 1.0)
    >>> round(r["metric_drop_ci95"][1], 3)     # upper end of the 95% interval, in points
    0.314

**Pass rule with labels (in-domain validation data):** paired non-inferiority. Each example is scored
for both models (correct or not); the drop in accuracy has a 95% interval from the paired 2x2 table
(Agresti & Min 2005: Wald on the discordant counts with 0.5 added to every cell, so that 0 flips on
a small set still gives a wide interval) and the model passes when the interval's upper end is at
most `threshold` points (default 1). With 1,000 examples an exact copy has an upper end of 0.2
points, one extra error 0.38; with 64 examples no model can pass (upper end >= 3 points): a gate on a
few dozen sentences has no statistical power. Entity F1 (NER) and QA F1 use a paired bootstrap of
the same examples when labels are given.

**Label agreement** is reported beside it: the share of examples whose top label equals the Keras
model's, excluding near ties, i.e. examples whose Keras top-2 probabilities differ by less than the
FIXED margin `TIE_MARGIN` (1e-3; never derived from the candidate). It must be at least
`min_agreement` (0.9): flips in both directions can cancel in the accuracy.

**Without labels** (the user gave no data): off-domain real text, agreement only; the metric drop is
100 x the disagreement excluding ties, compared directly with the threshold (no interval: no power),
and the model card says so.

`latency_ms`: median `invoke()` time, batch 1, 2 threads (XNNPACK default delegate).
"""

from __future__ import annotations

import numpy as np

from kbert.data.tasks import IGNORE
from kbert.errors import KbertInputError

TIE_MARGIN = 1e-3
Z95 = 1.959963984540054
BOOTSTRAP = 1000


class AccuracyGateError(KbertInputError):
    """The TFLite model loses more than the allowed accuracy against its Keras model."""


# ---- running both models ------------------------------------------------------------------------

def stack(inputs) -> dict:
    """A list of [1, seq] feeds -> one dict of [n, seq] arrays (a dict is returned as it is)."""
    if isinstance(inputs, dict):
        return inputs
    if not inputs:
        raise KbertInputError("the accuracy gate needs at least one held-out input")
    return {k: np.concatenate([f[k] for f in inputs]) for k in inputs[0]}


def keras_outputs(model, task: str, seq_len: int, batch: dict, multi_label: bool = False,
                  batch_size: int = 64) -> dict:
    """The Keras model's phone-facing outputs on [n, seq] arrays, computed in batches."""
    from kbert.export.tflite_spec import mobile_model

    wrapper = mobile_model(model, task, seq_len, multi_label=multi_label, batch_size=None)
    n = len(batch["ids"])
    parts = []
    for i in range(0, n, batch_size):
        out = wrapper({k: v[i:i + batch_size] for k, v in batch.items()}, training=False)
        parts.append({k: np.asarray(v) for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def lite_outputs(content: bytes, batch: dict, num_threads: int = 2, latency_runs: int = 0):
    """({name: [n, ...]} outputs of the flatbuffer, median latency in ms or None)."""
    from kbert.export import litert

    outs, latency = litert.run(content, batch, num_threads, latency_runs)
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}, latency


def run_tflite(content: bytes, inputs: list[dict], num_threads: int = 2, latency_runs: int = 0):
    """Outputs of the flatbuffer on each feed (dict name -> array), plus median latency (ms) or None."""
    from kbert.export import litert

    return litert.run(content, inputs, num_threads, latency_runs)


def run_keras(wrapper, inputs: list[dict]):
    """The batch-1 Keras wrapper's outputs on each feed."""
    outs = []
    for feed in inputs:
        out = wrapper(feed, training=False)
        outs.append({k: np.asarray(v) for k, v in out.items()})
    return outs


# ---- statistics ---------------------------------------------------------------------------------

def paired_drop(keras_correct, lite_correct) -> dict:
    """Accuracy drop (points) of the candidate and its 95% interval from paired per-example scores
    (Agresti-Min adjusted Wald for the difference of matched proportions)."""
    k = np.asarray(keras_correct, bool)
    t = np.asarray(lite_correct, bool)
    n = len(k)
    b = int((k & ~t).sum())  # Keras right, TFLite wrong
    c = int((~k & t).sum())  # TFLite right, Keras wrong
    ba, ca, na = b + 0.5, c + 0.5, n + 2.0
    diff = (ba - ca) / na
    se = np.sqrt(max((ba + ca) - (ba - ca) ** 2 / na, 0.0)) / na
    return {"metric_drop_points": 100.0 * (b - c) / n if n else 0.0,
            "metric_drop_ci95": [float(100.0 * (diff - Z95 * se)), float(100.0 * (diff + Z95 * se))],
            "discordant": {"keras_only_right": b, "tflite_only_right": c}}


def bootstrap_drop(metric, keras_pred, lite_pred, gold, resamples: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Metric drop (points) and its 95% percentile interval by a paired bootstrap over examples;
    `metric(preds, gold)` takes lists and returns a fraction."""
    n = len(gold)
    rng = np.random.default_rng(seed)
    k0, t0 = metric(keras_pred, gold), metric(lite_pred, gold)
    drops = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        g = [gold[i] for i in idx]
        drops.append(metric([keras_pred[i] for i in idx], g) - metric([lite_pred[i] for i in idx], g))
    lo, hi = np.percentile(drops, [2.5, 97.5])
    return {"keras_metric": float(k0), "tflite_metric": float(t0), "metric_drop_points": 100.0 * (k0 - t0),
            "metric_drop_ci95": [100.0 * float(lo), 100.0 * float(hi)]}


def near_ties(keras_probs, margin: float = TIE_MARGIN) -> np.ndarray:
    """Examples whose Keras top-2 probabilities differ by less than `margin` (boolean mask)."""
    p = np.sort(np.asarray(keras_probs, np.float64), axis=-1)
    if p.shape[-1] < 2:
        return np.zeros(len(p), bool)
    return (p[:, -1] - p[:, -2]) < margin


def judge_classification(keras_probs, lite_probs, labels=None, threshold: float = 1.0,
                         tie_margin: float = TIE_MARGIN, min_agreement: float = 0.9) -> dict:
    """The gate's figures and verdict for a single-label classifier."""
    a, b = np.asarray(keras_probs), np.asarray(lite_probs)
    report = {"examples": int(len(a)), "tie_margin": tie_margin, "min_agreement": min_agreement,
              "threshold_points": threshold}
    if not np.all(np.isfinite(b)):
        report.update(agreement=0.0, agreement_excluding_ties=0.0, near_ties=0, max_abs_diff=float("inf"),
                      mean_abs_diff=float("inf"), metric_drop_points=100.0, passed=False,
                      note="TFLite outputs are not finite")
        return report
    pa, pb = a.argmax(-1), b.argmax(-1)
    ties = near_ties(a, tie_margin)
    same = pa == pb
    diff = np.abs(a - b)
    report.update(agreement=float(same.mean()), near_ties=int(ties.sum()),
                  agreement_excluding_ties=float(same[~ties].mean()) if (~ties).any() else 1.0,
                  max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()))
    if labels is not None:
        y = np.asarray(labels)
        report.update(metric="accuracy", keras_metric=float((pa == y).mean()), tflite_metric=float((pb == y).mean()),
                      rule="non-inferiority: upper end of the 95% interval of the accuracy drop <= threshold",
                      **paired_drop(pa == y, pb == y))
        report["keras_accuracy"], report["tflite_accuracy"] = report["keras_metric"], report["tflite_metric"]
        within = report["metric_drop_ci95"][1] <= threshold
    else:
        report.update(metric="top-label agreement excluding near ties (no labels)",
                      metric_drop_points=100.0 * (1.0 - report["agreement_excluding_ties"]),
                      rule="no labels: disagreement excluding near ties <= threshold (no interval, no power)")
        within = report["metric_drop_points"] <= threshold
    report["agreement_ok"] = report["agreement_excluding_ties"] >= min_agreement
    report["passed"] = bool(within and report["agreement_ok"])
    return report


# ---- task metrics beyond classification ----------------------------------------------------------

def entity_spans(tags) -> set:
    """{(type, start, end)} from BIO tag names (`B-x`, `I-x`, `O`)."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        inside = tag.startswith("I-") and kind == tag[2:]
        if start is not None and not inside:
            spans.add((kind, start, i))
            start, kind = None, None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, kind = i, tag[2:]
    return spans


def entity_f1(preds, gold) -> float:
    """Micro entity F1 over examples (each a set of spans)."""
    tp = sum(len(p & g) for p, g in zip(preds, gold))
    n_pred, n_gold = sum(map(len, preds)), sum(map(len, gold))
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 1.0


def token_f1(pred, gold) -> float:
    """SQuAD token F1 between two (start, end) token spans (inclusive)."""
    p, g = set(range(pred[0], pred[1] + 1)), set(range(gold[0], gold[1] + 1))
    common = len(p & g)
    return 0.0 if not common else 2 * common / (len(p) + len(g))


def best_span(start_logits, end_logits, feed, max_answer_len: int = 30):
    """(start, end) token indices of the best span inside the second segment (the context)."""
    seg = feed["segment_ids"][0]
    mask = feed["mask"][0]
    ctx = np.where((seg == 1) & (mask == 1))[0]
    if len(ctx) > 1:
        ctx = ctx[:-1]  # the final [SEP]
    else:
        ctx = np.where(mask == 1)[0]
    s = np.full_like(start_logits, -np.inf)
    e = np.full_like(end_logits, -np.inf)
    s[ctx], e[ctx] = start_logits[ctx], end_logits[ctx]
    best, span = -np.inf, (0, 0)
    for i in ctx:
        j_hi = min(len(e), i + max_answer_len)
        j = i + int(np.argmax(e[i:j_hi]))
        if s[i] + e[j] > best:
            best, span = s[i] + e[j], (int(i), int(j))
    return span


def _judge_token_labels(ref, lite, batch, labels, report, label_names):
    masks = batch["mask"].astype(bool)
    a, b = ref["logits"], lite["logits"]
    agree = (a.argmax(-1) == b.argmax(-1))[masks]
    diff = np.abs(a - b)[masks]
    report.update(agreement=float(agree.mean()), max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()))
    if labels is not None:
        names = list(label_names)

        def spans(pred, gold_row):
            return entity_spans([names[p] if g != IGNORE else "O" for p, g in zip(pred, gold_row)])

        gold = [entity_spans([names[g] if g != IGNORE else "O" for g in row]) for row in labels]
        kp = [spans(p, row) for p, row in zip(a.argmax(-1), labels)]
        tp = [spans(p, row) for p, row in zip(b.argmax(-1), labels)]
        report.update(metric="entity F1", **bootstrap_drop(entity_f1, kp, tp, gold))
    else:
        report.update(metric="token label agreement (no labels)", metric_drop_points=100.0 * (1 - report["agreement"]))


def _judge_answer_spans(ref, lite, batch, labels, report, label_names):
    feeds = [{k: v[i:i + 1] for k, v in batch.items()} for i in range(report["examples"])]
    sa = [best_span(ref["start_logits"][i], ref["end_logits"][i], f) for i, f in enumerate(feeds)]
    sb = [best_span(lite["start_logits"][i], lite["end_logits"][i], f) for i, f in enumerate(feeds)]
    agree = float(np.mean([x == y for x, y in zip(sa, sb)]))
    diffs = [float(np.abs(ref[k] - lite[k]).max()) for k in ("start_logits", "end_logits")]
    report.update(agreement=agree, max_abs_diff=max(diffs),
                  mean_abs_diff=float(np.mean([np.abs(ref[k] - lite[k]).mean() for k in ("start_logits", "end_logits")])))
    if labels is not None:
        gold = [tuple(g) for g in labels]

        def f1(preds, golds):
            return float(np.mean([token_f1(p, g) for p, g in zip(preds, golds)]))

        report.update(metric="QA token F1", **bootstrap_drop(f1, sa, sb, gold))
    else:
        report.update(metric="answer span agreement (no labels)", metric_drop_points=100.0 * (1 - agree))


def _judge_cosine(ref, lite, batch, labels, report, label_names):
    """Each example's phone outputs (flattened, in name order) compared by cosine similarity."""
    n = report["examples"]
    a = np.concatenate([np.asarray(ref[k]).reshape(n, -1) for k in sorted(lite)], axis=-1)
    b = np.concatenate([np.asarray(lite[k]).reshape(n, -1) for k in sorted(lite)], axis=-1)
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    report.update(metric="cosine similarity", min_cosine=float(cos.min()), mean_cosine=float(cos.mean()),
                  max_abs_diff=float(np.abs(a - b).max()), mean_abs_diff=float(np.abs(a - b).mean()),
                  agreement=float((cos > 0.99).mean()), metric_drop_points=100.0 * (1 - float(cos.mean())))


# how the gate compares Keras and TFLite, by the task's `gate_metric` (kbert.tasks.contract)
GATE_METRICS = {"token_labels": _judge_token_labels, "answer_span": _judge_answer_spans, "cosine": _judge_cosine}


def judge(task: str, ref: dict, lite: dict, batch: dict, labels=None, threshold: float = 1.0,
          tie_margin: float = TIE_MARGIN, min_agreement: float = 0.9, label_names=None) -> dict:
    """The gate's report (figures and `passed`) for any task, from both models' outputs on `batch`,
    by the task's gate metric (its registry entry's `gate_metric`, or its own `gate_report`).

    labels: classify -> class ids; ner -> per-example lists of tag ids per token position (IGNORE, -100 =
    ignored) with `label_names` the tag names; qa -> per-example (start, end) gold token spans."""
    from kbert.tasks.registry import export_spec

    spec = export_spec(task)
    if spec.gate_metric == "class_probability":
        return judge_classification(ref["probability"], lite["probability"], labels, threshold, tie_margin,
                                    min_agreement)
    report = {"examples": int(len(batch["ids"])), "threshold_points": threshold}
    own = getattr(spec, "gate_report", None)
    if own is not None:
        report.update(own(ref, lite, batch, labels, label_names))
    elif spec.gate_metric in GATE_METRICS:
        GATE_METRICS[spec.gate_metric](ref, lite, batch, labels, report, label_names)
    else:
        raise KbertInputError(f"task {task!r}: unknown gate metric {spec.gate_metric!r}; expected one of "
                              f"class_probability, {', '.join(GATE_METRICS)} (or define gate_report)")
    if "metric_drop_ci95" in report:
        report["rule"] = "non-inferiority: upper end of the 95% bootstrap interval of the drop <= threshold"
        report["passed"] = bool(report["metric_drop_ci95"][1] <= threshold)
    else:
        report["rule"] = "no labels: drop <= threshold (no interval, no power)"
        report["passed"] = bool(report["metric_drop_points"] <= threshold)
    return report


def compare(wrapper, content: bytes, inputs, task: str, labels=None, latency_runs: int = 10,
            num_threads: int = 2, threshold: float = 1.0, min_agreement: float = 0.9) -> dict:
    """Compare the flatbuffer with the batch-1 Keras `wrapper` (`tflite_spec.mobile_model`) on `inputs`."""
    batch = stack(inputs)
    lite, latency = lite_outputs(content, batch, num_threads, latency_runs)
    ref = {k: np.concatenate([r[k] for r in run_keras(wrapper, [{k2: v[i:i + 1] for k2, v in batch.items()}
                                                                for i in range(len(batch["ids"]))])])
           for k in lite}
    report = judge(task, ref, lite, batch, labels, threshold, min_agreement=min_agreement)
    report.update(latency_ms=latency, num_threads=num_threads)
    return report


def refusal_message(out, mode, report, threshold) -> str:
    numbers = ", ".join(f"{k}={report[k]:.4g}" for k in ("agreement", "agreement_excluding_ties", "max_abs_diff")
                        if isinstance(report.get(k), float))
    extra = ""
    if "keras_metric" in report:
        extra = f", {report.get('metric')} Keras {report['keras_metric']:.4f} vs TFLite {report['tflite_metric']:.4f}"
    if not report.get("agreement_ok", True):
        return (f"refusing to write {out}: mode {mode!r} gives the Keras model's top label on only "
                f"{100 * report['agreement_excluding_ties']:.1f}% of {report['examples']} held-out examples "
                f"outside near ties (minimum {100 * report['min_agreement']:.0f}%; {numbers}{extra}); "
                "pick another mode or pass --force")
    if "metric_drop_ci95" in report:
        lo, hi = report["metric_drop_ci95"]
        return (f"refusing to write {out}: mode {mode!r} may lose up to {hi:.2f} points of {report['metric']} "
                f"(drop {report['metric_drop_points']:.2f}, 95% interval [{lo:.2f}, {hi:.2f}] on "
                f"{report['examples']} held-out examples; threshold {threshold:g}; {numbers}{extra}); "
                "pick another mode, give more held-out data, or pass --force")
    return (f"refusing to write {out}: mode {mode!r} loses {report['metric_drop_points']:.2f} points of "
            f"{report.get('metric', 'accuracy')} against the Keras model on {report['examples']} held-out "
            f"examples (threshold {threshold:g}; {numbers}{extra}); pick another mode or pass --force")


# ---- default real inputs (off-domain, used only when no data is given) -------------------------

DEFAULT_HELDOUT = 256


def sentiment_sentences(n: int | None = None, offset: int = 0):
    """Real labelled movie-review sentences (gensim `pang_lee_polarity.cor`): (texts, labels 0=neg/1=pos),
    negatives and positives interleaved so that any prefix is balanced."""
    from kbert.data.sources import pang_lee_balanced

    return pang_lee_balanced(n, offset)


def news_sentences(n: int = 64):
    """Real English news text (gensim `lee_background.cor`), split into sentences."""
    import re

    import kbert.assets

    with open(kbert.assets.gensim_file("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        text = f.read()
    sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]
    return sents[:n]


def qa_pairs(n: int = 16):
    """(questions, contexts) from real news paragraphs: a question-shaped first sentence and its paragraph."""
    import kbert.assets

    with open(kbert.assets.gensim_file("lee_background.cor"), encoding="utf-8", errors="replace") as f:
        paras = [p.strip() for p in f if len(p.split()) > 20][:n]
    questions = ["What happened in " + " ".join(p.split()[:6]) + "?" for p in paras]
    return questions, paras


def default_texts(task: str, kind: str = "heldout"):
    """Off-domain real text for the gate (`heldout`) or calibration (`representative`), of the kind
    the task reads (its registry entry's `default_heldout`)."""
    from kbert.tasks.registry import export_spec

    if export_spec(task).default_heldout == "question_context":
        return qa_pairs(16 if kind == "heldout" else 32)
    if kind == "heldout":
        return sentiment_sentences(DEFAULT_HELDOUT)[0]
    return news_sentences(64)


def default_inputs(tokenizer, task: str, seq_len: int, texts=None, kind: str = "heldout") -> list[dict]:
    """Feeds for the gate (`kind="heldout"`) or calibration (`kind="representative"`) from real text."""
    from kbert.export.tflite_spec import representative_inputs

    if texts is None:
        texts = default_texts(task, kind)
    if is_pair(texts):
        return representative_inputs(tokenizer, None, seq_len, pairs=texts)
    return representative_inputs(tokenizer, list(texts), seq_len)


def is_pair(texts) -> bool:
    return isinstance(texts, tuple) and len(texts) == 2 and not isinstance(texts[0], str)
