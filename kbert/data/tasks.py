"""Fine-tuning features: classification, NER and QA examples -> encoder inputs + labels.

    >>> import kbert
    >>> from kbert.data import tasks
    >>> tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "john", "lives",
    ...                                   "in", "new", "york", "##er"])
    >>> f = tasks.ner_features(tok, [["John", "lives", "in", "New", "Yorker"]],
    ...                        [["B-PER", "O", "O", "B-LOC", "I-LOC"]], label_names=["O", "B-PER", "B-LOC", "I-LOC"],
    ...                        seq_len=10)
    >>> f["labels"][0].tolist()          # first piece labelled, "##er", [CLS], [SEP], padding ignored
    [-100, 1, 0, 0, 2, 3, -100, -100, -100, -100]

Everything here checks its input and names the row at fault (`KbertInputError`), or, with
`on_error="skip"`, skips the row and counts it in `stats`: labels outside the label set, empty
texts, token/tag count mismatches, answers that are not where they claim to be in their context.
Texts longer than `seq_len` are truncated (classification, NER) or windowed (QA) and counted.

Offsets: contexts and NER sentences are split into words with their character spans (`\\w+` runs
and single punctuation marks, the split BERT's basic tokenizer makes), and each word is tokenized
on its own with the model's keras-hub tokenizer, so every word piece knows the word and the
characters it came from, for WordPiece and SentencePiece alike.
"""

from __future__ import annotations

import re
import numpy as np

from kbert.data.containers import ClassificationData, ner_label_order  # noqa: F401  (ClassificationData: re-exported)
from kbert.errors import KbertInputError

IGNORE = -100  # the label of positions the loss skips (Keras' ignore_class); defined here only
WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise KbertInputError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _bad(on_error, stats, reason, message):
    if on_error == "raise":
        raise KbertInputError(message)
    stats[reason] = stats.get(reason, 0) + 1


def split_words(text: str) -> list[tuple[str, int, int]]:
    """`(word, start_char, end_char)` for each word / punctuation mark of `text`."""
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


class WordPieces:
    """Tokenize words one by one (batched, cached): `pieces(["New", "Yorker"]) -> [[id], [id, id]]`."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, list[int]] = {}
        unk = getattr(tokenizer, "unk_token_id", None)
        self.unk = unk if unk is not None else tokenizer.token_to_id(getattr(tokenizer, "unk_token", "[UNK]"))

    def pieces(self, words) -> list[list[int]]:
        new = sorted({w for w in words if w not in self.cache})
        for i in range(0, len(new), 4096):
            chunk = new[i:i + 4096]
            ids = self.tokenizer(chunk)
            if hasattr(ids, "to_list"):
                ids = ids.to_list()
            elif not isinstance(ids, list):
                ids = [list(r) for r in np.asarray(ids)]
            for w, p in zip(chunk, ids):
                self.cache[w] = [int(t) for t in p] or [self.unk]  # a word never vanishes
        return [self.cache[w] for w in words]


# ---------------------------------------------------------------- classification


def _label_id(label, names, index):
    """A label's id: looked up by its name first ("2" for a JSON 2), else an int is taken as an id."""
    if isinstance(label, (bool, np.bool_)):
        label = int(label)
    key = str(label).strip()
    if key in index:
        return index[key]
    if isinstance(label, (int, np.integer)):
        return int(label) if 0 <= label < len(names) else None
    return None


def _missing(label) -> bool:
    return label is None or (isinstance(label, float) and label != label) or (isinstance(label, str)
                                                                               and not label.strip())


def _label_sort_key(name: str):
    """Numbers in numeric order before other names: 2 < 10 < "neg" (ints and strings mixed never fail)."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def classification_data(texts, labels, label_names=None, texts_b=None, multi_label: bool = False,
                        on_error: str = "raise", source: str = "data", first_row: int = 1) -> ClassificationData:
    """Validate texts + labels (names or ids) and map labels to ids.

    `label_names` fixes the label set (others are errors); by default it is the sorted set of the
    labels seen. Multi-label rows are lists of labels (or "a|b" strings). Row numbers in messages
    start at `first_row` (2 for a CSV with a header line).
    """
    _check_on_error(on_error)
    texts = list(texts)
    labels = list(labels)
    if len(texts) != len(labels):
        raise KbertInputError(f"{source}: {len(texts)} texts but {len(labels)} labels")
    if texts_b is not None:
        texts_b = list(texts_b)
        if len(texts_b) != len(texts):
            raise KbertInputError(f"{source}: {len(texts)} first texts but {len(texts_b)} second texts")
    as_list = lambda v: ([s for s in v.split("|") if s] if isinstance(v, str) else list(v))  # noqa: E731
    if label_names is None:
        present = [v for v in labels if not _missing(v)]  # a missing label is never a class ("None", "")
        kinds = {type(x).__name__: x for v in present for x in (as_list(v) if multi_label else [v])
                 if isinstance(x, (int, str, np.integer)) and not isinstance(x, bool)}
        if "str" in kinds and ({"int", "int64", "int32"} & set(kinds)):
            number = next(kinds[k] for k in ("int", "int64", "int32") if k in kinds)
            raise KbertInputError(f"{source}: labels mix numbers and strings (e.g. {number!r} and {kinds['str']!r}); "
                                  "write every label the same way")
        seen = {str(x).strip() for v in present for x in as_list(v)} if multi_label else {
            str(v).strip() for v in present}
        label_names = sorted(seen, key=_label_sort_key)
    label_names = [str(x) for x in label_names]
    if len(set(label_names)) != len(label_names):
        raise KbertInputError(f"{source}: label names repeat: {label_names}")
    index = {n: i for i, n in enumerate(label_names)}
    stats = {"rows": len(texts)}
    keep_t, keep_b, keep_y, rows = [], [], [], []
    for i, (text, label) in enumerate(zip(texts, labels)):
        row = i + first_row
        pair_texts = [text] + ([texts_b[i]] if texts_b is not None else [])
        if any(not isinstance(t, str) or not t.strip() for t in pair_texts):
            _bad(on_error, stats, "empty_text", f"{source}: row {row}: empty text")
            continue
        if _missing(label):
            _bad(on_error, stats, "missing_label", f"{source}: row {row}: no label")
            continue
        if multi_label:
            ids = [_label_id(v, label_names, index) for v in as_list(label)]
            if any(v is None for v in ids):
                _bad(on_error, stats, "unknown_label",
                     f"{source}: row {row}: label {label!r} is not in the label set {label_names}")
                continue
            y = np.zeros(len(label_names), "float32")
            y[ids] = 1
        else:
            y = _label_id(label, label_names, index)
            if y is None:
                _bad(on_error, stats, "unknown_label",
                     f"{source}: row {row}: label {label!r} is not in the label set {label_names}")
                continue
        keep_t.append(text)
        if texts_b is not None:
            keep_b.append(texts_b[i])
        keep_y.append(y)
        rows.append(row)
    if not keep_t:
        raise KbertInputError(f"{source}: no usable rows ({stats})")
    stats["kept"] = len(keep_t)
    y = np.stack(keep_y).astype("float32") if multi_label else np.asarray(keep_y, "int32")
    return ClassificationData(keep_t, y, label_names, keep_b if texts_b is not None else None, multi_label,
                              stats, rows)


def count_truncated(tokenizer, texts, seq_len: int, texts_b=None) -> int:
    """How many examples exceed `seq_len` tokens with [CLS]/[SEP] (they get truncated)."""
    n = 0
    for i in range(0, len(texts), 4096):
        a = _lengths(tokenizer(list(texts[i:i + 4096])))
        extra = 2
        if texts_b is not None:
            a = a + _lengths(tokenizer(list(texts_b[i:i + 4096])))
            extra = 3
        n += int((a + extra > seq_len).sum())
    return n


def _lengths(ids):
    if hasattr(ids, "row_lengths"):
        return ids.row_lengths().numpy()
    return np.asarray([len(r) for r in ids])


def classification_dataset(data: ClassificationData, preprocessor, batch_size: int = 32, shuffle: bool = False,
                           seed: int = 0):
    """A batched `tf.data.Dataset` of `(encoder inputs, {"logits": y})`, tokenized in the pipeline."""
    import tensorflow as tf

    x = data.inputs()
    ds = tf.data.Dataset.from_tensor_slices((tuple(x) if isinstance(x, tuple) else x, data.y))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    return ds.map(lambda t, y: (preprocessor(t), {"logits": y}), num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


# ---------------------------------------------------------------- NER


def ner_features(tokenizer, sentences, tags=None, label_names=None, seq_len: int = 128, segments: bool = True,
                 on_error: str = "raise", source: str = "data") -> dict:
    """Word-level sentences (+ tags) -> piece-level arrays.

    Returns a dict of numpy arrays: `token_ids`, `padding_mask`, `segment_ids` (if `segments`),
    `labels` (tag id on each word's first piece, -100 elsewhere; only with `tags`), `word_index`
    (word number on each word's first piece, -1 elsewhere), `num_words`, plus `label_names`,
    `stats` (truncated sentences and skipped rows) and `rows` (sentence numbers kept).
    """
    _check_on_error(on_error)
    sentences = [list(s) for s in sentences]
    if tags is not None:
        tags = [list(t) for t in tags]
        if len(tags) != len(sentences):
            raise KbertInputError(f"{source}: {len(sentences)} sentences but {len(tags)} tag sequences")
        if label_names is None:
            label_names = ner_label_order(tags)
    index = {n: i for i, n in enumerate(label_names or [])}
    wp = WordPieces(tokenizer)
    wp.pieces([w for s in sentences for w in s if isinstance(w, str) and w.strip()])  # one batched call
    stats = {"rows": len(sentences), "truncated": 0}
    ids, labels, words_at, num_words, rows = [], [], [], [], []
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    for n, words in enumerate(sentences):
        row = n + 1
        if not words or any(not isinstance(w, str) or not w.strip() for w in words):
            _bad(on_error, stats, "empty", f"{source}: sentence {row}: empty sentence or empty token")
            continue
        if tags is not None:
            if len(tags[n]) != len(words):
                _bad(on_error, stats, "length_mismatch",
                     f"{source}: sentence {row}: {len(words)} tokens but {len(tags[n])} tags")
                continue
            unknown = [t for t in tags[n] if t not in index]
            if unknown:
                _bad(on_error, stats, "unknown_label",
                     f"{source}: sentence {row}: tag {unknown[0]!r} is not in the label set {label_names}")
                continue
        tok, lab, wid = [cls_id], [IGNORE], [-1]
        for w, pieces in enumerate(wp.pieces(words)):
            if len(tok) + len(pieces) > seq_len - 1:
                stats["truncated"] += 1
                break
            tok += pieces
            lab += [index[tags[n][w]] if tags is not None else IGNORE] + [IGNORE] * (len(pieces) - 1)
            wid += [w] + [-1] * (len(pieces) - 1)
        tok.append(sep_id)
        lab.append(IGNORE)
        wid.append(-1)
        pad = seq_len - len(tok)
        ids.append(tok + [pad_id] * pad)
        labels.append(lab + [IGNORE] * pad)
        words_at.append(wid + [-1] * pad)
        num_words.append(len(words))
        rows.append(row)
    if not ids:
        raise KbertInputError(f"{source}: no usable sentences ({stats})")
    stats["kept"] = len(ids)
    token_ids = np.asarray(ids, "int32")
    out = {"token_ids": token_ids, "padding_mask": (token_ids != pad_id).astype("int32")}
    if segments:
        out["segment_ids"] = np.zeros_like(token_ids)
    if tags is not None:
        out["labels"] = np.asarray(labels, "int32")
    out.update(word_index=np.asarray(words_at, "int32"), num_words=np.asarray(num_words, "int32"),
               label_names=list(label_names or []), stats=stats, rows=rows)
    return out


# ---------------------------------------------------------------- QA


def check_answer(example: dict, source: str = "data") -> list[tuple[str, int]]:
    """`[(text, answer_start)]` of a SQuAD-style example, checked against its context."""
    ctx = example.get("context")
    qid = example.get("id", "?")
    if not isinstance(ctx, str) or not ctx.strip():
        raise KbertInputError(f"{source}: question {qid}: empty context")
    if not isinstance(example.get("question"), str) or not example["question"].strip():
        raise KbertInputError(f"{source}: question {qid}: empty question")
    answers = example.get("answers") or {"text": [], "answer_start": []}
    texts, starts = list(answers.get("text", [])), list(answers.get("answer_start", []))
    if len(texts) != len(starts):
        raise KbertInputError(f"{source}: question {qid}: {len(texts)} answer texts but {len(starts)} starts")
    out = []
    for t, s in zip(texts, starts):
        t = t.decode() if isinstance(t, bytes) else t
        s = int(s)
        if not t or s < 0 or ctx[s:s + len(t)] != t:
            found = ctx.find(t) if t else -1
            raise KbertInputError(
                f"{source}: question {qid}: answer {t!r} is not in its context at character {s}"
                + (f" (it occurs at {found})" if found >= 0 else " (it does not occur in the context)"))
        out.append((t, s))
    return out


def qa_features(tokenizer, examples, seq_len: int = 384, doc_stride: int = 128, max_query_len: int = 64,
                segments: bool = True, training: bool = True, on_error: str = "raise", source: str = "data") -> dict:
    """SQuAD-style examples -> windows over long contexts.

    Each example is a dict `{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}`
    (no answers = unanswerable, SQuAD v2). Windows hold `[CLS] question [SEP] context part [SEP]`;
    consecutive windows start `doc_stride` context tokens apart. Returns numpy arrays
    `token_ids`, `padding_mask`, `segment_ids`, `start_positions`/`end_positions` (the first
    answer's tokens when it lies wholly inside the window, else 0 = [CLS]), `example_index`,
    `offsets` ([N, seq_len, 2] character span of each context token, -1 elsewhere), and
    `examples` (the kept examples), `stats`.
    """
    _check_on_error(on_error)
    if doc_stride < 1 or max_query_len + 3 >= seq_len:
        raise KbertInputError(f"need doc_stride >= 1 and max_query_len + 3 < seq_len (got {doc_stride}, "
                              f"{max_query_len}, {seq_len})")
    wp = WordPieces(tokenizer)
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    stats = {"examples": 0, "windows": 0, "long_contexts": 0, "truncated_questions": 0}
    cols = {k: [] for k in ("token_ids", "segment_ids", "start_positions", "end_positions", "example_index",
                            "offsets")}
    kept = []
    examples = list(examples)
    wp.pieces([w for ex in examples for k in ("question", "context") if isinstance(ex.get(k), str)
               for w, _, _ in split_words(ex[k])])  # one batched call
    for ex in examples:
        try:
            answers = check_answer(ex, source)
        except KbertInputError as e:
            _bad(on_error, stats, "bad_examples", str(e))
            continue
        q_ids = [t for p in wp.pieces([w for w, _, _ in split_words(ex["question"])]) for t in p]
        if len(q_ids) > max_query_len:
            stats["truncated_questions"] += 1
            q_ids = q_ids[:max_query_len]
        words = split_words(ex["context"])
        ctx_ids, ctx_off = [], []
        for (w, s, e), pieces in zip(words, wp.pieces([w for w, _, _ in words])):
            ctx_ids += pieces
            ctx_off += [(s, e)] * len(pieces)
        if answers:
            a_text, a_start = answers[0]
            a_end = a_start + len(a_text)
            tok_in = [i for i, (s, e) in enumerate(ctx_off) if s < a_end and e > a_start]
            if not tok_in:  # answer is only whitespace/nothing we tokenize
                _bad(on_error, stats, "bad_examples",
                     f"{source}: question {ex.get('id', '?')}: answer {a_text!r} covers no context token")
                continue
            a_tok = (tok_in[0], tok_in[-1])
        else:
            a_tok = None
        room = seq_len - len(q_ids) - 3
        windows = list(range(0, max(len(ctx_ids) - room, 0) + 1, doc_stride))
        if windows[-1] + room < len(ctx_ids):
            windows.append(len(ctx_ids) - room)
        stats["long_contexts"] += len(windows) > 1
        ex_index = len(kept)
        kept.append(ex)
        for w0 in windows:
            part = ctx_ids[w0:w0 + room]
            head = [cls_id] + q_ids + [sep_id]
            tok = head + part + [sep_id]
            seg = [0] * len(head) + [1] * (len(part) + 1)
            off = [(-1, -1)] * len(head) + ctx_off[w0:w0 + room] + [(-1, -1)]
            sp = ep = 0
            if a_tok is not None and a_tok[0] >= w0 and a_tok[1] < w0 + len(part):
                sp, ep = a_tok[0] - w0 + len(head), a_tok[1] - w0 + len(head)
            pad = seq_len - len(tok)
            cols["token_ids"].append(tok + [pad_id] * pad)
            cols["segment_ids"].append(seg + [0] * pad)
            cols["offsets"].append(off + [(-1, -1)] * pad)
            cols["start_positions"].append(sp)
            cols["end_positions"].append(ep)
            cols["example_index"].append(ex_index)
    if not kept:
        raise KbertInputError(f"{source}: no usable questions ({stats})")
    stats["examples"], stats["windows"] = len(kept), len(cols["token_ids"])
    out = {k: np.asarray(v, "int32") for k, v in cols.items()}
    out["padding_mask"] = (out["token_ids"] != pad_id).astype("int32")
    if not segments:
        out.pop("segment_ids")
    out.update(examples=kept, stats=stats)
    return out


def model_inputs(features: dict, segments: bool = True) -> dict:
    """The encoder-input arrays of a feature dict."""
    names = ["token_ids", "padding_mask"] + (["segment_ids"] if segments and "segment_ids" in features else [])
    return {k: features[k] for k in names}
