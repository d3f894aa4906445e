"""Local data files -> kbert's containers (`kbert.data.containers`), problems naming the file and line/row.

    >>> from kbert.data import files
    >>> files.read_csv("missing.csv")
    Traceback (most recent call last):
    kbert.errors.KbertInputError: data file not found: missing.csv

CSV/TSV and JSONL (classification), CoNLL (NER; `token ... tag` per line, blank line between
sentences), SQuAD JSON or JSONL (QA). `kbert.data.datasets` re-exports them beside the TFDS loader.
"""

from __future__ import annotations

import csv
import json
import os

from kbert.data.containers import ClassificationData, NerData, QaData, ner_label_order
from kbert.data.tasks import classification_data
from kbert.errors import KbertInputError


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
        label_names = ner_label_order(tags)
    stats["sentences"] = len(sentences)
    return NerData(sentences, tags, list(label_names), stats)


def read_squad(path) -> QaData:
    """SQuAD v1.1/v2.0 JSON (`{"data": [{"paragraphs": [{"context", "qas"}]}]}`) or JSONL of examples."""
    if str(path).endswith(".jsonl"):
        return QaData(read_jsonl(path))
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
    return QaData(out)
