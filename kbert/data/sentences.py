"""A small rule-based English sentence splitter for pretraining segments.

It splits after `.`, `!`, `?` (and `…`) followed by whitespace and an upper-case letter, a digit or an
opening quote/bracket, keeping closing quotes and brackets with the sentence they end. It does not split after
common abbreviations (Mr., Mrs., Dr., St., e.g., i.e., etc. before a lower-case word, ...) or after
single-letter initials (J. R. R. Tolkien), and it never splits inside a quotation that has not closed
when the next word is lower-case ("Stop!" she said.).

    >>> split_sentences('Mr. Darcy smiled. "Is it so?" said Mrs. Bennet. She left.')
    ['Mr. Darcy smiled.', '"Is it so?" said Mrs. Bennet.', 'She left.']
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st sr jr rev hon gen col capt lt sgt mt ft messrs mme mlle esq
    vs etc e.g i.e cf viz al approx dept est fig no vol pp ch jan feb mar apr jun jul aug sep sept oct nov dec
    inc ltd co corp u.s u.k a.m p.m""".split()
)
# Titles are always followed by a name, so never end a sentence even before a capital.
TITLES = frozenset("mr mrs ms dr prof st rev hon gen col capt lt sgt messrs mme mlle".split())

_CLOSERS = "\"'”’)]»"
_OPENERS = "\"'“‘([«"
# A candidate boundary: terminal punctuation, optional closers, whitespace.
_BOUNDARY = re.compile(r"([.!?…]+)([" + re.escape(_CLOSERS) + r"]*)(\s+)")


def _last_word(text: str) -> str:
    m = re.search(r"([A-Za-z][A-Za-z.]*)$", text)
    return m.group(1).lower().rstrip(".") if m else ""


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences (whitespace inside each sentence is normalised to single spaces)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(2)
        rest = text[m.end():]
        if not rest:
            break
        nxt = rest[0]
        if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
            continue  # "e.g. the", "Stop!" she said
        if m.group(1) == ".":
            word = _last_word(text[start:m.start(1)] + ".")
            if word in TITLES:
                continue
            if len(word) == 1 and word.isalpha() and word != "i":  # an initial: "J. Smith"
                continue
            if word in ABBREVIATIONS and not m.group(2) and word not in ("etc",):
                continue
        out.append(text[start:end].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out
