"""Fine-tuning datasets: TFDS, local files, and the real sets kbert can reach offline.

    >>> from kbert.data import datasets
    >>> tweets = datasets.sentiment_tweets()                 # 38k real tweets, 3 classes  # doctest: +SKIP
    >>> tweets.label_names, len(tweets)                                                   # doctest: +SKIP
    (['negative', 'neutral', 'positive'], 38158)
    >>> sst2 = datasets.load_tfds("glue/sst2", "validation")                              # doctest: +SKIP

Every loader returns one of three containers (`kbert.data.containers`), whatever the source:
- classification: `ClassificationData` (texts[, texts_b], label ids, label names);
- NER: `NerData` (sentences as word lists, tag lists, label names);
- QA: `QaData`, a list of SQuAD-style dicts `{"id", "question", "context", "answers": {"text", "answer_start"}}`.

TFDS names: glue/sst2, glue/mnli, imdb_reviews, conll2003, squad, squad/v2.0 (downloaded by
TFDS on first use; tests run them offline with `tfds.testing.mock_data`). Local files: CSV/TSV,
JSONL (classification or QA), CoNLL (NER; `token ... tag` per line, blank line between
sentences) and SQuAD JSON (`kbert.data.files`). Problems name the file and line/row. The real
offline sets (tweets, Pang-Lee, WNUT-16, the hand-written QA set) have one parser each in
`kbert.data.sources`; this module re-exports them.
"""

from __future__ import annotations

import numpy as np

from kbert.data.containers import ClassificationData, NerData, QaData  # noqa: F401  (re-exported)
from kbert.data.files import (CSV_FIELD_LIMIT, read_conll, read_csv, read_jsonl,  # noqa: F401  (re-exported)
                              read_jsonl_classification, read_squad)
from kbert.data.sources import handwritten_qa, pang_lee_polarity, sentiment_tweets, wnut16  # noqa: F401
from kbert.data.tasks import classification_data
from kbert.errors import KbertInputError

TFDS = {
    "glue/sst2": {"task": "classify", "text": "sentence", "label": "label"},
    "glue/mnli": {"task": "classify", "text": "premise", "text_b": "hypothesis", "label": "label"},
    "imdb_reviews": {"task": "classify", "text": "text", "label": "label"},
    "conll2003": {"task": "ner", "tokens": "tokens", "tags": "ner"},
    "squad": {"task": "qa"},
    "squad/v2.0": {"task": "qa"},
}


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else (v.item() if isinstance(v, np.generic) else v)


# ---------------------------------------------------------------- TFDS


def load_tfds(name: str, split: str, data_dir=None, limit: int | None = None, on_error: str = "skip"):
    """Load a TFDS dataset into kbert's containers (see the module docstring)."""
    if name not in TFDS:
        raise KbertInputError(f"unsupported TFDS dataset {name!r}; supported: {', '.join(TFDS)}")
    import tensorflow_datasets as tfds

    spec = TFDS[name]
    try:
        ds, info = tfds.load(name, split=split, data_dir=data_dir, with_info=True, shuffle_files=False)
    except (ValueError, AssertionError) as e:
        raise KbertInputError(f"TFDS {name} split {split!r}: {e}") from e
    if limit:
        ds = ds.take(limit)
    rows = list(tfds.as_numpy(ds))
    source = f"tfds:{name}[{split}]"
    if spec["task"] == "classify":
        names = info.features[spec["label"]].names
        texts = [_text(r[spec["text"]]) for r in rows]
        texts_b = [_text(r[spec["text_b"]]) for r in rows] if "text_b" in spec else None
        labels = [int(r[spec["label"]]) for r in rows]  # -1 (unlabelled test rows) are skipped/errors
        return classification_data(texts, labels, names, texts_b, on_error=on_error, source=source)
    if spec["task"] == "ner":
        names = info.features[spec["tags"]].feature.names
        sents, tags, stats = [], [], {"rows": len(rows), "length_mismatch": 0}
        for n, r in enumerate(rows, 1):
            words, ts = [_text(t) for t in r[spec["tokens"]]], [names[int(t)] for t in r[spec["tags"]]]
            if len(words) != len(ts):
                if on_error == "raise":
                    raise KbertInputError(f"{source}: sentence {n}: {len(words)} tokens but {len(ts)} tags")
                stats["length_mismatch"] += 1
                continue
            sents.append(words)
            tags.append(ts)
        return NerData(sents, tags, list(names), stats)
    out = QaData()
    for r in rows:
        ans = r["answers"]
        out.append({"id": _text(r["id"]), "title": _text(r.get("title", b"")), "question": _text(r["question"]),
                    "context": _text(r["context"]),
                    "answers": {"text": [_text(t) for t in ans["text"]],
                                "answer_start": [int(s) for s in ans["answer_start"]]}})
    return out


def split(n: int, fractions=(0.8, 0.1, 0.1), seed: int = 0, stratify=None) -> list[np.ndarray]:
    """Shuffled index arrays for train/validation/test (stratified by `stratify` labels if given)."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if stratify is None else [np.nonzero(np.asarray(stratify) == c)[0]
                                                       for c in np.unique(stratify)]
    parts = [[] for _ in fractions]
    for g in groups:
        g = rng.permutation(g)
        cuts = np.round(np.cumsum(fractions) / np.sum(fractions) * len(g)).astype(int)
        for i, (a, b) in enumerate(zip([0, *cuts[:-1]], cuts)):
            parts[i].append(g[a:b])
    return [rng.permutation(np.concatenate(p)) for p in parts]
