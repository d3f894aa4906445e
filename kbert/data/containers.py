"""The three fine-tuning data containers, whatever the source (TFDS, local files, the real sets):

    >>> from kbert.data.containers import ClassificationData, NerData, QaData
    >>> import numpy as np
    >>> ClassificationData(["good", "bad"], np.array([1, 0]), ["neg", "pos"]).inputs()
    ['good', 'bad']
    >>> NerData([["John", "ran"]], [["B-PER", "O"]], ["O", "B-PER"]).subset([0]).tags
    [['B-PER', 'O']]
    >>> NerData([["John", "ran"]], [["B-PER"]], ["O", "B-PER"])
    Traceback (most recent call last):
    kbert.errors.KbertInputError: NER data: sentence 1: 2 tokens but 1 tags

- `ClassificationData`: texts (and `texts_b` for pairs), label ids `y` (or multi-hot rows), label names;
- `NerData`: sentences as word lists, one tag list per sentence, tag names (`ner_label_order`);
- `QaData`: SQuAD-style examples `{"id", "question", "context", "answers": {"text", "answer_start"}}`
  (no answers = unanswerable, SQuAD v2).

Each checks its own invariants when built and names the row at fault (`KbertInputError`); the
row-by-row validation of raw input (empty texts, unknown labels, answers not in their context,
with `on_error="skip"`) is the parsers' and the features' job (`kbert.data.tasks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kbert.errors import KbertInputError


def ner_label_order(tags) -> list[str]:
    """The tag names of tag sequences in kbert's order: "O" first, then by entity type, B- before I-.

    >>> ner_label_order([["B-PER", "O", "I-LOC"], ["B-LOC", "I-PER"]])
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    """
    return sorted({t for ts in tags for t in ts}, key=lambda t: (t != "O", t[2:], t))


@dataclass
class ClassificationData:
    """Validated classification examples: `y` holds class ids (or multi-hot rows)."""

    texts: list
    y: np.ndarray
    label_names: list
    texts_b: list | None = None
    multi_label: bool = False
    stats: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)  # original row numbers kept

    def __post_init__(self):
        y = np.asarray(self.y)
        where = "classification data"
        if len(y) != len(self.texts):
            raise KbertInputError(f"{where}: {len(self.texts)} texts but {len(y)} labels")
        if self.texts_b is not None and len(self.texts_b) != len(self.texts):
            raise KbertInputError(f"{where}: {len(self.texts)} first texts but {len(self.texts_b)} second texts")
        n = len(self.label_names)
        if self.multi_label:
            if y.ndim != 2 or y.shape[1] != n:
                raise KbertInputError(f"{where}: multi-label rows must have one column per label ({n}), "
                                      f"got shape {tuple(y.shape)}")
        elif len(y):
            bad = np.nonzero((y < 0) | (y >= n))[0]
            if y.ndim != 1 or len(bad):
                row = int(bad[0]) if len(bad) else 0
                raise KbertInputError(f"{where}: row {row + 1}: label id {y[row].tolist()!r} is not an id of the "
                                      f"{n} labels {list(self.label_names)}")

    def __len__(self):
        return len(self.texts)

    def inputs(self):
        """What `TextPreprocessor` takes: texts, or a (texts_a, texts_b) pair."""
        return self.texts if self.texts_b is None else (self.texts, self.texts_b)

    def subset(self, index):
        index = np.asarray(index, dtype=int)
        pick = lambda xs: [xs[i] for i in index]  # noqa: E731
        return ClassificationData(pick(self.texts), self.y[index], self.label_names,
                                  pick(self.texts_b) if self.texts_b is not None else None,
                                  self.multi_label, dict(self.stats), pick(self.rows) if self.rows else [])


@dataclass
class NerData:
    """Word-level NER sentences with one tag per word; every tag is one of `label_names`."""

    sentences: list
    tags: list
    label_names: list
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        where = "NER data"
        if len(self.tags) != len(self.sentences):
            raise KbertInputError(f"{where}: {len(self.sentences)} sentences but {len(self.tags)} tag sequences")
        names = set(self.label_names)
        for n, (words, tags) in enumerate(zip(self.sentences, self.tags), 1):
            if len(words) != len(tags):
                raise KbertInputError(f"{where}: sentence {n}: {len(words)} tokens but {len(tags)} tags")
            unknown = [t for t in tags if t not in names]
            if unknown:
                raise KbertInputError(f"{where}: sentence {n}: tag {unknown[0]!r} is not in the label set "
                                      f"{list(self.label_names)}")

    def __len__(self):
        return len(self.sentences)

    def subset(self, index):
        return NerData([self.sentences[i] for i in index], [self.tags[i] for i in index], self.label_names,
                       dict(self.stats))


class QaData(list):
    """SQuAD-style question answering examples (see the module docstring): a list of example dicts,
    so anything that takes a list of SQuAD dicts (`QuestionAnswerer.fit`, `qa_features`) takes it.

    Only the shape is checked here (each example a dict, its answers a dict); whether each answer
    really sits at its `answer_start` is checked by `kbert.data.tasks.qa_features`, which can skip
    such examples (`on_error="skip"`).

    >>> QaData([{"id": "q1", "question": "Who?", "context": "Ann ran.",
    ...          "answers": {"text": ["Ann"], "answer_start": [0]}}]).unanswerable()
    0
    >>> QaData(["Who?"])
    Traceback (most recent call last):
    kbert.errors.KbertInputError: QA data: example 1 is a str, not a dict with question, context and answers
    """

    def __init__(self, examples=()):
        super().__init__(examples)
        for n, ex in enumerate(self, 1):
            if not isinstance(ex, dict):
                raise KbertInputError(f"QA data: example {n} is a {type(ex).__name__}, not a dict with question, "
                                      "context and answers")
            answers = ex.get("answers")
            if answers is not None and not isinstance(answers, dict):
                raise KbertInputError(f"QA data: question {ex.get('id', n)}: answers must be a dict "
                                      f"{{'text': [...], 'answer_start': [...]}}, got a {type(answers).__name__}")

    @property
    def examples(self) -> list:
        return list(self)

    def subset(self, index):
        return QaData([self[i] for i in index])

    def unanswerable(self) -> int:
        """How many examples have no answer (SQuAD v2)."""
        return sum(not (e.get("answers") or {}).get("text") for e in self)
