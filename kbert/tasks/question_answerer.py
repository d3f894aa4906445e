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
from kbert.errors import KbertInputError
from kbert.tasks.task_model import TaskModel, as_texts, encoder_inputs

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
    return keras.Model(inputs, span_outputs(encoder, inputs, dropout), name="question_answerer")


def span_outputs(encoder, inputs, dropout: float = 0.1) -> dict:
    """The head on symbolic encoder inputs: `{"start_logits", "end_logits"}`, padding at -1e4."""
    hidden = sequence_output(encoder(inputs))
    x = keras.layers.Dropout(dropout, name="qa_dropout")(hidden)
    scores = keras.layers.Dense(2, name="qa_outputs",
                                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))(x)
    start, end = SpanLogits(name="span_logits")(scores, inputs["padding_mask"])
    return {"start_logits": start, "end_logits": end}


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


def squad_examples(x, y=None, source: str = "input") -> list[dict]:
    """`(questions, contexts)` (+ answers: strings, "" for none, or SQuAD answer dicts), or a list of
    SQuAD-style example dicts -> SQuAD-style example dicts."""
    if isinstance(x, list) and x and isinstance(x[0], dict):
        return [dict(e, id=e.get("id", str(i))) for i, e in enumerate(x)]
    if not (isinstance(x, tuple) and len(x) == 2):
        raise KbertInputError(f"{source}: a question answerer takes (questions, contexts) or SQuAD example dicts")
    questions, contexts = as_texts(x[0]), as_texts(x[1])
    if len(questions) != len(contexts):
        raise KbertInputError(f"{source}: {len(questions)} questions but {len(contexts)} contexts")
    if y is not None and len(y) != len(questions):
        raise KbertInputError(f"{source}: {len(questions)} questions but {len(y)} answers")
    examples = []
    for i, (q, c) in enumerate(zip(questions, contexts)):
        answers = {"text": [], "answer_start": []}
        a = y[i] if y is not None else None
        if isinstance(a, dict):
            answers = a
        elif isinstance(a, str) and a:
            start = c.find(a)
            if start < 0:
                raise KbertInputError(f"{source}: question {i}: answer {a!r} does not occur in its context")
            answers = {"text": [a], "answer_start": [start]}
        examples.append({"id": str(i), "question": q, "context": c, "answers": answers})
    return examples


@keras.saving.register_keras_serializable(package="kbert")
class QuestionAnswerer(TaskModel):
    """Extractive QA: `(questions, contexts)` in, answer spans of the contexts out.

    >>> import kbert
    >>> qa = kbert.QuestionAnswerer.from_preset("bert_tiny", seq_len=32, doc_stride=8, max_query_len=8)
    >>> q, c = ["Who wrote it?"], ["It was written by Ada in London."]
    >>> _ = qa.fit((q, c), ["Ada"], verbose=0)
    >>> sorted(qa.predict((q, c), decode=True, verbose=0)[0])
    ['end', 'null_score', 'score', 'start', 'text']

    `fit` takes `(questions, contexts)` with answers as strings ("" = no answer, SQuAD v2) or
    SQuAD answer dicts, or a list of SQuAD example dicts; long contexts become overlapping
    windows (`doc_stride`). `predict(..., decode=True)` returns per question
    `{"text", "start", "end", "score", "null_score"}` (character offsets into the context), the best
    span over all its windows (`postprocess`).

    Args:
        backbone, preprocessor: as the other task models (`seq_len` = window length, 384 default).
        doc_stride: context tokens between window starts. max_query_len: question pieces kept.
        max_answer_len: longest answer in tokens. allow_no_answer / null_threshold: SQuAD v2.
    """

    task = "qa"
    # export contract (kbert.tasks.contract)
    phone_output_names = ("end_logits", "start_logits")
    export_seq_len = 384
    seq_len_note = "the Task Library's BertQuestionAnswerer expects seq_len 384, not {seq_len}"
    length_free_labels = False  # labels are token positions at the trained length
    gate_metric = "answer_span"
    default_heldout = "question_context"
    metadata_name = "BertQuestionAnswerer"
    metadata_description = "Answer a question from a passage (seq len {seq_len})."
    serving_inputs = "question_context"
    serving_outputs = "answer_span"
    default_seq_len = 384

    def __init__(self, backbone, preprocessor=None, dropout: float = 0.1, doc_stride: int = 128,
                 max_query_len: int = 64, max_answer_len: int = 30, allow_no_answer: bool = False,
                 null_threshold: float = 0.0, **kwargs):
        inputs = encoder_inputs(backbone)
        self._init_task(backbone, preprocessor, inputs, span_outputs(backbone, inputs, dropout), pooler_used=False,
                        **kwargs)
        self.dropout, self.doc_stride, self.max_query_len = float(dropout), int(doc_stride), int(max_query_len)
        self.max_answer_len, self.allow_no_answer = int(max_answer_len), bool(allow_no_answer)
        self.null_threshold = float(null_threshold)
        self._finish_init()

    def settings(self) -> dict:
        return {"dropout": self.dropout, "doc_stride": self.doc_stride, "max_query_len": self.max_query_len,
                "max_answer_len": self.max_answer_len, "allow_no_answer": self.allow_no_answer,
                "null_threshold": self.null_threshold}

    @classmethod
    def legacy_settings(cls, model, meta) -> dict:
        return {k: meta[k] for k in ("doc_stride", "max_query_len", "max_answer_len") if k in meta}

    def default_loss(self):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return {"start_logits": loss, "end_logits": loss}

    def is_raw_input(self, x) -> bool:
        return (isinstance(x, list) and bool(x) and isinstance(x[0], dict)) or super().is_raw_input(x)

    def prepare(self, x, y=None, training=False):
        from kbert.data.tasks import model_inputs, qa_features

        if self.preprocessor is None:
            raise KbertInputError(f"{self.name} has no preprocessor, so it takes token tensors only")
        examples = squad_examples(x, y)
        has_answers = y is not None or any(e.get("answers", {}).get("text") for e in examples)
        max_query = min(self.max_query_len, self.seq_len // 2)
        f = qa_features(self.tokenizer, examples, self.seq_len, self.doc_stride, max_query,
                        segments=self.family != "distilbert", training=training and has_answers,
                        on_error="raise", source="input")
        labels = ({"start_logits": f["start_positions"], "end_logits": f["end_positions"]}
                  if training and has_answers else None)
        return model_inputs(f), labels, f

    def decode(self, outputs, features=None):
        """Best answer per question (see `postprocess`)."""
        if not features:
            raise KbertInputError("decode=True needs raw (questions, contexts) as input")
        return postprocess(features, outputs["start_logits"], outputs["end_logits"],
                           [e["context"] for e in features["examples"]], max_answer_len=self.max_answer_len,
                           allow_no_answer=self.allow_no_answer, null_threshold=self.null_threshold)

    # ----------------------------------------------------------------- the fine-tuning recipe
    @classmethod
    def recipe_settings(cls, config, labels=None) -> dict:
        return dict(dropout=float(config.dropout), doc_stride=int(config.doc_stride),
                    max_query_len=int(config.max_query_len), max_answer_len=int(config.max_answer_len),
                    null_threshold=float(config.null_threshold))

    @classmethod
    def read_file(cls, path, config, label_names=None):
        """FILE.json (SQuAD) or .jsonl (one example per line)."""
        from kbert.data.files import read_squad

        return read_squad(path)

    def recipe_fit_data(self, data) -> None:
        self.allow_no_answer = data.unanswerable() > 0

    def recipe_features(self, data, config, training=True):
        from kbert.data.tasks import model_inputs, qa_features

        f = qa_features(self.tokenizer, data, self.seq_len, int(config.doc_stride), int(config.max_query_len),
                        self.family != "distilbert", training=training, on_error="skip")
        return model_inputs(f), {"start_logits": f["start_positions"], "end_logits": f["end_positions"]}, f

    def recipe_metrics(self, x, y, extra, data, config) -> dict:
        """SQuAD exact match and token F1 over the best span of each question's windows."""
        from kbert.tasks import metrics

        out = self.predict(x, batch_size=64, verbose=0)
        exs = extra["examples"]
        v2 = any(not e["answers"]["text"] for e in exs)
        preds = postprocess(extra, out["start_logits"], out["end_logits"], [e["context"] for e in exs],
                            max_answer_len=int(config.max_answer_len), allow_no_answer=v2,
                            null_threshold=float(config.null_threshold))
        s = metrics.squad_scores([p["text"] for p in preds], [e["answers"]["text"] for e in exs])
        return s | {"n": len(exs), "windows": int(len(extra["example_index"])),
                    "examples": [{"id": e.get("id"), "question": e["question"], "prediction": p["text"],
                                  "gold": e["answers"]["text"]} for e, p in list(zip(exs, preds))[:20]]}

    @classmethod
    def summary_figures(cls, test) -> str:
        return f"EM {test['exact_match']:.1f}, F1 {test['f1']:.1f}"
