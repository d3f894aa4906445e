"""Extractive question answering (SQuAD v1.1 and v2.0): start/end logits over the tokens of
`[CLS] question [SEP] context window [SEP]`, and the post-processing that turns them into answer
text.

    >>> import kbert
    >>> from kbert.tasks.question_answerer import build_question_answerer
    >>> enc = kbert.models.backbone("bert_tiny")
    >>> qa = build_question_answerer(enc)
    >>> out = qa(kbert.models.dummy_inputs(enc, seq_len=12))
    >>> out["start_logits"].shape, out["end_logits"].shape
    (TensorShape([2, 12]), TensorShape([2, 12]))

Long contexts are cut into overlapping windows (`kbert.data.tasks.qa_features`, doc stride);
every window keeps the character offsets of its context tokens, so `postprocess` can score all
spans (start <= end, inside the context, at most `max_answer_len` tokens) across all windows of an
example and cut the best one out of the original context. "No answer" (SQuAD v2) is the span
[CLS]..[CLS] at position 0: training targets point there when the answer is missing or outside
the window, and `postprocess` answers "" when the null score beats the best span by more than
`null_threshold`. Padding positions get -1e4 logits inside the model, so exported models behave
the same.
"""

from __future__ import annotations

import keras
import numpy as np

from kbert.models import sequence_output
from kbert.tasks.classifier import encoder_inputs

NEG = -1e4


@keras.saving.register_keras_serializable(package="kbert")
class SpanLogits(keras.layers.Layer):
    """[batch, seq, 2] scores + padding mask -> start and end logits, padding pushed to -1e4."""

    def call(self, scores, padding_mask):
        pad = (1.0 - keras.ops.cast(padding_mask, scores.dtype)) * NEG
        return scores[..., 0] + pad, scores[..., 1] + pad


def build_question_answerer(encoder, dropout: float = 0.1) -> keras.Model:
    """encoder inputs -> `{"start_logits": [batch, seq], "end_logits": [batch, seq]}`."""
    inputs = encoder_inputs(encoder)
    hidden = sequence_output(encoder(inputs))
    x = keras.layers.Dropout(dropout, name="qa_dropout")(hidden)
    scores = keras.layers.Dense(2, name="qa_outputs",
                                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))(x)
    start, end = SpanLogits(name="span_logits")(scores, inputs["padding_mask"])
    return keras.Model(inputs, {"start_logits": start, "end_logits": end}, name="question_answerer")


def compile_question_answerer(model, learning_rate: float = 5e-5, optimizer=None) -> keras.Model:
    """AdamW + cross-entropy on the start and end positions (labels `{"start_logits": s, "end_logits": e}`)."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer or keras.optimizers.AdamW(learning_rate, weight_decay=0.01),
                  loss={"start_logits": loss, "end_logits": loss})
    return model


def best_spans(start_logits, end_logits, offsets, n_best: int = 20, max_answer_len: int = 30):
    """Valid (score, start_char, end_char) spans of ONE window, best first.

    `offsets` is [seq, 2]: the character span of each context token in the context, (-1, -1) for
    question, special and padding tokens.
    """
    start_logits, end_logits, offsets = np.asarray(start_logits), np.asarray(end_logits), np.asarray(offsets)
    ctx = offsets[:, 0] >= 0
    starts = [i for i in np.argsort(start_logits)[::-1][: n_best * 2] if ctx[i]][:n_best]
    ends = [i for i in np.argsort(end_logits)[::-1][: n_best * 2] if ctx[i]][:n_best]
    spans = []
    for s in starts:
        for e in ends:
            if e < s or e - s + 1 > max_answer_len:
                continue
            spans.append((float(start_logits[s] + end_logits[e]), int(offsets[s, 0]), int(offsets[e, 1])))
    spans.sort(key=lambda t: -t[0])
    return spans


def postprocess(features, start_logits, end_logits, contexts, n_best: int = 20, max_answer_len: int = 30,
                allow_no_answer: bool = False, null_threshold: float = 0.0) -> list[dict]:
    """Best answer per example across all its windows.

    Args:
        features: dict from `kbert.data.tasks.qa_features` (needs `example_index`, `offsets`).
        start_logits, end_logits: [num_features, seq] model outputs.
        contexts: the original context string of every example.
        allow_no_answer: SQuAD v2 mode: answer "" when `null - best > null_threshold`.
    Returns: one dict per example: `{"text", "score", "start", "end", "null_score"}`.
    """
    example_index = np.asarray(features["example_index"])
    offsets = np.asarray(features["offsets"])
    best = [None] * len(contexts)
    null = [np.inf] * len(contexts)
    for f, ex in enumerate(example_index):
        null[ex] = min(null[ex], float(start_logits[f][0] + end_logits[f][0]))
        spans = best_spans(start_logits[f], end_logits[f], offsets[f], n_best, max_answer_len)
        if spans and (best[ex] is None or spans[0][0] > best[ex][0]):
            best[ex] = spans[0]
    results = []
    for ex, context in enumerate(contexts):
        score, s, e = best[ex] if best[ex] is not None else (-np.inf, 0, 0)
        text = context[s:e] if best[ex] is not None else ""
        if allow_no_answer and (best[ex] is None or null[ex] - score > null_threshold):
            text, s, e = "", -1, -1
        results.append({"text": text, "score": score, "start": s, "end": e,
                        "null_score": null[ex] if np.isfinite(null[ex]) else None})
    return results
