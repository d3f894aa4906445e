"""The accuracy gate: run a `.tflite` in the LiteRT interpreter on held-out real inputs and compare
it with the Keras model it came from, before anyone ships it.

    >>> from kbert.export import accuracy_gate
    >>> report = accuracy_gate.compare(wrapper, tflite_bytes, inputs, "classify")  # doctest: +SKIP
    >>> report["agreement"], report["max_abs_diff"], report["metric_drop_points"]   # doctest: +SKIP
    (1.0, 0.0012, 0.0)

Figures (all against the Keras float model on the same inputs):

* classify: `agreement` (top labels equal), `max_abs_diff` / `mean_abs_diff` of the scores, and the
  metric drop in points: accuracy(Keras) - accuracy(TFLite) when true labels are given, otherwise
  the percentage of sentences whose top label changed.
* ner: token-level label agreement over real (unpadded) tokens; drop = 100 x disagreement.
* qa: answer-span agreement (same argmax start and end); drop = 100 x disagreement.
* embed / encoder: cosine similarity (min/mean); drop = 100 x (1 - mean cosine).

`latency_ms`: median `invoke()` time, batch 1, 2 threads (XNNPACK default delegate).
"""

from __future__ import annotations

import time

import numpy as np

from kbert.errors import KbertInputError


class AccuracyGateError(KbertInputError):
    """The TFLite model loses more than the allowed accuracy against its Keras model."""


def interpreter(content: bytes, num_threads: int = 2):
    """A LiteRT interpreter (`ai_edge_litert` if installed, else `tf.lite.Interpreter`)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interp = Interpreter(model_content=bytes(content), num_threads=num_threads)
    interp.allocate_tensors()
    return interp


def run_tflite(content: bytes, inputs: list[dict], num_threads: int = 2, latency_runs: int = 0):
    """Outputs of the flatbuffer on each feed (dict name -> array), plus median latency (ms) or None."""
    interp = interpreter(content, num_threads)
    runner = interp.get_signature_runner()
    outs = [runner(**feed) for feed in inputs]
    latency = None
    if latency_runs and inputs:
        feed = inputs[0]
        runner(**feed)
        times = []
        for _ in range(latency_runs):
            t = time.perf_counter()
            runner(**feed)
            times.append((time.perf_counter() - t) * 1000)
        latency = float(np.median(times))
    return outs, latency


def run_keras(wrapper, inputs: list[dict]):
    outs = []
    for feed in inputs:
        out = wrapper(feed, training=False)
        outs.append({k: np.asarray(v) for k, v in out.items()})
    return outs


def compare(wrapper, content: bytes, inputs: list[dict], task: str, labels=None, latency_runs: int = 10,
            num_threads: int = 2) -> dict:
    """Compare the TFLite flatbuffer with the Keras `wrapper` (see `tflite.mobile_model`) on `inputs`."""
    if not inputs:
        raise KbertInputError("the accuracy gate needs at least one held-out input")
    lite, latency = run_tflite(content, inputs, num_threads, latency_runs)
    ref = run_keras(wrapper, inputs)
    report = {"examples": len(inputs), "latency_ms": latency, "num_threads": num_threads}
    if task == "classify":
        a = np.concatenate([r["probability"] for r in ref])
        b = np.concatenate([o["probability"] for o in lite])
        if not np.all(np.isfinite(b)):
            report.update(agreement=0.0, max_abs_diff=float("inf"), mean_abs_diff=float("inf"),
                          metric_drop_points=100.0, note="TFLite outputs are not finite")
            return report
        pa, pb = a.argmax(-1), b.argmax(-1)
        diff = np.abs(a - b)
        report.update(agreement=float((pa == pb).mean()), max_abs_diff=float(diff.max()),
                      mean_abs_diff=float(diff.mean()))
        if labels is not None:
            y = np.asarray(labels)
            acc_k, acc_t = float((pa == y).mean()), float((pb == y).mean())
            report.update(metric="accuracy", keras_accuracy=acc_k, tflite_accuracy=acc_t,
                          metric_drop_points=100.0 * (acc_k - acc_t))
        else:
            report.update(metric="top-label agreement", metric_drop_points=100.0 * (1 - report["agreement"]))
    elif task == "ner":
        masks = np.concatenate([f["mask"] for f in inputs]).astype(bool)
        a = np.concatenate([r["logits"] for r in ref])
        b = np.concatenate([o["logits"] for o in lite])
        agree = (a.argmax(-1) == b.argmax(-1))[masks]
        diff = np.abs(a - b)[masks]
        report.update(metric="token label agreement", agreement=float(agree.mean()),
                      max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()),
                      metric_drop_points=100.0 * (1 - float(agree.mean())))
    elif task == "qa":
        spans_a, spans_b, diffs = [], [], []
        for feed, r, o in zip(inputs, ref, lite):
            spans_a.append(best_span(r["start_logits"][0], r["end_logits"][0], feed))
            spans_b.append(best_span(o["start_logits"][0], o["end_logits"][0], feed))
            diffs.append(np.abs(r["start_logits"] - o["start_logits"]).max())
            diffs.append(np.abs(r["end_logits"] - o["end_logits"]).max())
        agree = float(np.mean([x == y for x, y in zip(spans_a, spans_b)]))
        report.update(metric="answer span agreement", agreement=agree, max_abs_diff=float(max(diffs)),
                      mean_abs_diff=float(np.mean(diffs)), metric_drop_points=100.0 * (1 - agree))
    else:
        a = np.concatenate([r["embeddings"] for r in ref])
        b = np.concatenate([o["embeddings"] for o in lite])
        cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
        report.update(metric="cosine similarity", min_cosine=float(cos.min()), mean_cosine=float(cos.mean()),
                      max_abs_diff=float(np.abs(a - b).max()), mean_abs_diff=float(np.abs(a - b).mean()),
                      agreement=float((cos > 0.99).mean()), metric_drop_points=100.0 * (1 - float(cos.mean())))
    return report


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


def refusal_message(out, mode, report, threshold) -> str:
    numbers = ", ".join(f"{k}={report[k]:.4g}" for k in ("agreement", "max_abs_diff", "mean_abs_diff")
                        if isinstance(report.get(k), float))
    extra = ""
    if "keras_accuracy" in report:
        extra = f", accuracy Keras {report['keras_accuracy']:.4f} vs TFLite {report['tflite_accuracy']:.4f}"
    if report.get("agreement", 1.0) < report.get("min_agreement", 0.0):
        return (f"refusing to write {out}: mode {mode!r} gives the Keras model's top label on only "
                f"{100 * report['agreement']:.1f}% of {report['examples']} held-out examples (minimum "
                f"{100 * report['min_agreement']:.0f}%; {numbers}{extra}); pick another mode or pass --force")
    return (f"refusing to write {out}: mode {mode!r} loses {report['metric_drop_points']:.2f} points of "
            f"{report.get('metric', 'accuracy')} against the Keras model on {report['examples']} held-out "
            f"examples (threshold {threshold:g}; {numbers}{extra}); pick another mode or pass --force")


# ---- default real inputs ------------------------------------------------------------------------

def sentiment_sentences(n: int | None = None, offset: int = 0):
    """Real labelled movie-review sentences (gensim `pang_lee_polarity.cor`): (texts, labels 0=neg/1=pos)."""
    import kbert.assets

    texts, labels = [], []
    with open(kbert.assets.gensim_file("pang_lee_polarity.cor"), encoding="utf-8", errors="replace") as f:
        for line in f:
            tag, _, text = line.strip().partition(" ")
            if text:
                texts.append(text)
                labels.append(1 if tag.endswith("pos") else 0)
    # interleave neg/pos so that any prefix is balanced
    order = [i for pair in zip(range(0, len(texts) // 2), range(len(texts) // 2, len(texts))) for i in pair]
    texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    end = None if n is None else offset + n
    return texts[offset:end], labels[offset:end]


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


def default_inputs(tokenizer, task: str, seq_len: int, texts=None, kind: str = "heldout") -> list[dict]:
    """Feeds for the gate (`kind="heldout"`) or calibration (`kind="representative"`) from real text."""
    from kbert.export.tflite import representative_inputs

    if texts is None:
        if task == "qa":
            texts = qa_pairs(16 if kind == "heldout" else 32)
        elif kind == "heldout":
            texts = sentiment_sentences(64)[0]
        else:
            texts = news_sentences(64)
    if isinstance(texts, tuple) and len(texts) == 2 and not isinstance(texts[0], str):
        return representative_inputs(tokenizer, None, seq_len, pairs=texts)
    return representative_inputs(tokenizer, list(texts), seq_len)
