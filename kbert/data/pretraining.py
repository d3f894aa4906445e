"""Pretraining examples from streamed documents: segment pairs, NSP / SOP labels and dynamic masking.

The public pieces, in the order data flows through them:

- `token_classes(vocabulary)`: per-vocabulary-id class (special / word start / continuation) for
  whole-word and n-gram masking (WordPiece `##x` and SentencePiece pieces without `▁` continue a word).
- `mask_tokens(token_ids, seed, ...)`: **the masking function** (stable signature; the distiller uses
  it). BERT's 15% / 80-10-10 masking over whole words or ALBERT n-grams, pure TF ops, batched,
  stateless under `seed`, so the same seed gives the same masks and a new seed new ones.
- `Masker`: `mask_tokens` bound to a tokenizer's ids; `Masker.from_tokenizer(tok, max_predictions)`.
- `pretraining_dataset(documents, tokenizer, seq_len, ...)`: a `tf.data.Dataset` of
  `(features, labels)` for `BertPretrainer` (objective "nsp") / `AlbertPretrainer` (objective "sop").

    >>> import kbert, tensorflow as tf
    >>> from kbert.data import pretraining
    >>> tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##c"])
    >>> masker = pretraining.Masker.from_tokenizer(tok, max_predictions=4)
    >>> out = masker(tf.constant([[2, 5, 6, 7, 5, 6, 3, 0]]), seed=(1, 2))
    >>> sorted(out)
    ['mask_positions', 'mlm_ids', 'mlm_weights', 'token_ids']

Labels: `pair_label` 0 = B really follows A (NSP) / A, B in order (SOP); 1 = B from another document
(NSP) / A and B swapped (SOP), as in BERT's and ALBERT's `create_pretraining_data.py`.
"""

from __future__ import annotations

import logging

import numpy as np

from kbert.errors import KbertInputError

log = logging.getLogger(__name__)

SPECIAL, WORD_START, CONTINUATION = 0, 1, 2
OBJECTIVES = ("nsp", "sop")
MIN_SEQ_LEN = 8


def token_classes(vocabulary, special_tokens=None) -> np.ndarray:
    """int32 array [vocab]: SPECIAL (0), WORD_START (1) or CONTINUATION (2) for each token.

    WordPiece: `##x` continues a word. SentencePiece: a piece that does not start with `▁`
    continues a word. Special tokens are `[X]` / `<x>` forms or those in `special_tokens`.
    """
    vocabulary = list(vocabulary)
    sentencepiece = sum(t.startswith("▁") for t in vocabulary) > len(vocabulary) // 10
    specials = set(special_tokens or ())
    out = np.empty(len(vocabulary), np.int32)
    for i, t in enumerate(vocabulary):
        if t in specials or (t.startswith("[") and t.endswith("]") and len(t) > 2) or (
                t.startswith("<") and t.endswith(">") and len(t) > 2):
            out[i] = SPECIAL
        elif sentencepiece:
            out[i] = WORD_START if t.startswith("▁") else CONTINUATION
        else:
            out[i] = CONTINUATION if t.startswith("##") else WORD_START
    return out


def mask_tokens(token_ids, seed, *, vocabulary_size: int, mask_token_id: int, max_predictions: int,
                token_class=None, padding_mask=None, mask_rate: float = 0.15, whole_word: bool = True,
                max_ngram: int = 1, mask_token_rate: float = 0.8, random_token_rate: float = 0.1):
    """Dynamic MLM masking of a batch (or one example) of token ids; pure TF, stateless.

    Args:
        token_ids: int [batch, seq_len] (or [seq_len]) packed token ids.
        seed: int tensor/tuple of shape [2] for `tf.random.stateless_*`. New seed, new masks.
        vocabulary_size: random replacements are drawn uniformly from [0, vocabulary_size).
        mask_token_id: id of `[MASK]`.
        max_predictions: fixed number P of masked positions per example (padded with weight 0).
        token_class: int [vocabulary_size] from `token_classes` (SPECIAL tokens are never masked;
            CONTINUATION tokens join the previous token's word). None: every id is a word start and
            only padding is excluded.
        padding_mask: bool/int [batch, seq_len]; None means `token_ids != 0`.
        mask_rate: fraction of maskable tokens to predict (rounded, at least 1, at most P).
        whole_word: mask whole words (all pieces of a word together); False: single tokens.
        max_ngram: ALBERT n-gram masking: spans of n <= max_ngram words, p(n) ∝ 1/n. 1 = BERT.
        mask_token_rate / random_token_rate: the 80% / 10% (rest kept unchanged) replacement split.

    Returns:
        dict with `token_ids` (masked, same shape/dtype), `mask_positions` int32 [.., P] ascending,
        `mlm_ids` int32 [.., P] original ids there, `mlm_weights` float32 [.., P] 1 for real targets.

    Spans are chosen in random order until the next one would exceed the budget (as BERT's
    reference does), so an example may predict slightly fewer than `mask_rate` of its tokens.
    """
    import tensorflow as tf

    token_ids = tf.convert_to_tensor(token_ids)
    unbatched = token_ids.shape.rank == 1
    ids = tf.cast(token_ids[None] if unbatched else token_ids, tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(tf.convert_to_tensor(seed), tf.int64), 4, alg="philox")
    batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
    if padding_mask is None:
        valid = ids != 0
    else:
        valid = tf.cast(padding_mask, tf.bool)
        valid = valid[None] if unbatched else valid
    if token_class is not None:
        cls = tf.gather(tf.constant(token_class, tf.int32), ids)
        candidate = valid & (cls != SPECIAL)
        starts = cls != CONTINUATION if whole_word else tf.ones_like(candidate)
    else:
        candidate, starts = valid, tf.ones_like(valid)
    starts = candidate & starts
    # A continuation right after a non-candidate (e.g. after [CLS]) starts its own word.
    prev_candidate = tf.pad(candidate[:, :-1], [[0, 0], [1, 0]])
    starts = starts | (candidate & ~prev_candidate)
    word = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1  # word index of each token (per row)

    # Cut each row's words into consecutive spans of n words, n ~ p(n) ∝ 1/n (n = 1 for BERT).
    if max_ngram > 1:
        p = 1.0 / np.arange(1, max_ngram + 1)
        cdf = tf.constant(np.cumsum(p / p.sum())[:-1], tf.float32)  # inverse CDF: XLA-friendly
        u = tf.random.stateless_uniform([batch, length, 1], seeds[0], alg="philox")
        n = 1 + tf.reduce_sum(tf.cast(u > cdf, tf.int32), axis=-1)
        ends = tf.cumsum(n, axis=1)  # span k covers words [ends[k-1], ends[k])
        span = tf.searchsorted(ends, tf.maximum(word, 0), side="right")
    else:
        span = tf.maximum(word, 0)
    span = tf.where(candidate, span, length)  # non-candidates go to an unused bucket
    rows = tf.range(batch)[:, None]
    flat_span = rows * (length + 1) + span
    span_tokens = tf.reshape(tf.math.unsorted_segment_sum(
        tf.reshape(tf.cast(candidate, tf.int32), [-1]), tf.reshape(flat_span, [-1]), batch * (length + 1)), [batch, length + 1])
    span_tokens = span_tokens[:, :length]

    # Visit spans in random order; keep the prefix whose token count fits the budget.
    n_candidates = tf.reduce_sum(tf.cast(candidate, tf.float32), axis=1)
    budget = tf.clip_by_value(tf.cast(tf.round(n_candidates * mask_rate), tf.int32), 1, max_predictions)
    priority = tf.random.stateless_uniform([batch, length], seeds[1], alg="philox")
    priority = tf.where(span_tokens > 0, priority, 2.0)  # empty spans last
    order = tf.argsort(priority, axis=1)
    used = tf.cumsum(tf.gather(span_tokens, order, batch_dims=1), axis=1)
    keep_sorted = (used <= budget[:, None]) & (tf.gather(span_tokens, order, batch_dims=1) > 0)
    keep_span = tf.gather(keep_sorted, tf.argsort(order, axis=1), batch_dims=1)
    keep_span = tf.pad(keep_span, [[0, 0], [0, 1]])  # the unused bucket is never kept
    selected = tf.gather(keep_span, span, batch_dims=1) & candidate

    # 80% [MASK], 10% random token, 10% unchanged.
    u = tf.random.stateless_uniform([batch, length], seeds[2], alg="philox")
    random_ids = tf.random.stateless_uniform([batch, length], seeds[3], 0, vocabulary_size, tf.int32, alg="philox")
    masked = tf.where(selected & (u < mask_token_rate), mask_token_id, ids)
    masked = tf.where(selected & (u >= mask_token_rate) & (u < mask_token_rate + random_token_rate), random_ids,
                      masked)

    # Positions ascending, padded to P: top_k over (length - position) for selected tokens.
    score = tf.where(selected, length - tf.range(length)[None], 0)
    k = tf.minimum(max_predictions, length)
    top, _ = tf.math.top_k(score, k=k)
    weights = tf.cast(top > 0, tf.float32)
    positions = tf.where(top > 0, length - top, 0)
    pad = max_predictions - k
    positions = tf.pad(positions, [[0, 0], [0, pad]])
    weights = tf.pad(weights, [[0, 0], [0, pad]])
    mlm_ids = tf.gather(ids, positions, batch_dims=1) * tf.cast(weights > 0, tf.int32)
    out = {
        "token_ids": tf.cast(masked, token_ids.dtype),
        "mask_positions": positions,
        "mlm_ids": mlm_ids,
        "mlm_weights": weights,
    }
    if unbatched:
        out = {k: v[0] for k, v in out.items()}
    return out


class Masker:
    """`mask_tokens` bound to one tokenizer's vocabulary.

    Args:
        vocabulary: list of tokens (ids are positions).
        mask_token: the mask token string (`[MASK]`).
        max_predictions: P, masked positions per example.
        whole_word: mask whole words (`##` / `▁` aware).
        max_ngram: 1 for BERT, 3 for ALBERT's n-gram masking.
        mask_rate: 0.15.

    Call it as `masker(token_ids, seed, padding_mask=None)`; see `mask_tokens` for the outputs.
    """

    def __init__(self, vocabulary, mask_token="[MASK]", max_predictions=20, whole_word=True, max_ngram=1,
                 mask_rate=0.15, special_tokens=None):
        vocabulary = list(vocabulary)
        if mask_token not in vocabulary:
            raise KbertInputError(f"the vocabulary has no mask token {mask_token!r}")
        if max_predictions < 1:
            raise KbertInputError(f"max_predictions must be >= 1, got {max_predictions}")
        self.vocabulary_size = len(vocabulary)
        self.mask_token_id = vocabulary.index(mask_token)
        self.token_class = token_classes(vocabulary, special_tokens)
        self.max_predictions = int(max_predictions)
        self.whole_word = bool(whole_word)
        self.max_ngram = int(max_ngram)
        self.mask_rate = float(mask_rate)

    @classmethod
    def from_tokenizer(cls, tokenizer, max_predictions=20, whole_word=True, max_ngram=1, mask_rate=0.15):
        """A masker for a keras-hub BERT / DistilBERT / ALBERT tokenizer."""
        vocab = tokenizer.get_vocabulary()
        specials = [t for t in (getattr(tokenizer, a, None) for a in
                                ("pad_token", "cls_token", "sep_token", "mask_token", "unk_token", "oov_token",
                                 "start_token", "end_token")) if isinstance(t, str)]
        mask = getattr(tokenizer, "mask_token", None) or "[MASK]"
        return cls(vocab, mask, max_predictions, whole_word, max_ngram, mask_rate, specials)

    def __call__(self, token_ids, seed, padding_mask=None):
        return mask_tokens(token_ids, seed, vocabulary_size=self.vocabulary_size, mask_token_id=self.mask_token_id,
                           max_predictions=self.max_predictions, token_class=self.token_class,
                           padding_mask=padding_mask, mask_rate=self.mask_rate, whole_word=self.whole_word,
                           max_ngram=self.max_ngram)


class PipelineStats:
    """Counters the pipeline keeps while streaming (documents seen, too short to pair, sentences)."""

    def __init__(self):
        self.documents = 0
        self.single_sentence_documents = 0
        self.sentences = 0

    def as_dict(self):
        return dict(documents=self.documents, single_sentence_documents=self.single_sentence_documents,
                    sentences=self.sentences)

    def __repr__(self):
        return f"PipelineStats({self.as_dict()})"


def _special_ids(tokenizer):
    def tid(*names):
        for n in names:
            v = getattr(tokenizer, n, None)
            if v is not None:
                return int(v)
        raise KbertInputError(f"tokenizer {type(tokenizer).__name__} lacks {names[0]}")

    return dict(cls=tid("cls_token_id", "start_token_id"), sep=tid("sep_token_id", "end_token_id"),
                pad=tid("pad_token_id"))


def _doc_pairs(sentences, seed, target):
    """Cut one tokenized document (ragged [S, None], S >= 2) into chunks of about `target` tokens (whole
    sentence pairs) and split each chunk of >= 2 sentences at a random sentence boundary into (A, B).
    Returns ragged A, B [C, None]."""
    import tensorflow as tf

    lengths = sentences.row_lengths()
    # Chunk over units of two consecutive sentences, so that every chunk has >= 2 sentences to split
    # even when single sentences are longer than the target (`keep_junction` truncates over-long pairs).
    n_sent = tf.cast(sentences.nrows(), tf.int32)
    unit = tf.range(n_sent) // 2
    unit_offsets = tf.cumsum(tf.math.unsorted_segment_sum(lengths, unit, (n_sent + 1) // 2), exclusive=True)
    chunk = tf.cast(tf.gather(unit_offsets, unit) // target, tf.int32)  # chunk of each sentence
    chunk = tf.cumsum(tf.cast(tf.concat([[0], tf.cast(chunk[1:] != chunk[:-1], tf.int32)], 0), tf.int32))
    n_chunks = tf.reduce_max(chunk) + 1
    per_chunk = tf.math.bincount(chunk, minlength=n_chunks, maxlength=n_chunks)
    first = tf.cumsum(per_chunk, exclusive=True)
    # A = the first a_len sentences of the chunk, a_len uniform in [1, n - 1].
    u = tf.random.stateless_uniform(tf.shape(per_chunk), seed)
    a_len = 1 + tf.cast(u * tf.cast(tf.maximum(per_chunk - 1, 1), tf.float32), tf.int32)
    rank = tf.range(tf.size(chunk)) - tf.gather(first, chunk)
    sent_in_a = rank < tf.gather(a_len, chunk)
    tok_sent = sentences.value_rowids()
    tok_chunk = tf.gather(chunk, tok_sent)
    tok_a = tf.gather(sent_in_a, tok_sent)
    flat = sentences.flat_values
    tok_chunk, nrows = tf.cast(tok_chunk, tf.int64), tf.cast(n_chunks, tf.int64)
    a = tf.RaggedTensor.from_value_rowids(tf.boolean_mask(flat, tok_a), tf.boolean_mask(tok_chunk, tok_a), nrows)
    b = tf.RaggedTensor.from_value_rowids(tf.boolean_mask(flat, ~tok_a), tf.boolean_mask(tok_chunk, ~tok_a), nrows)
    keep = per_chunk >= 2
    return tf.ragged.boolean_mask(a, keep), tf.ragged.boolean_mask(b, keep)


def keep_junction(first, second, budget):
    """Truncate a batch of segment pairs (ragged [B, None] each) to at most `budget` tokens per pair, keeping
    the tokens next to the junction: the *end* of `first` and the *start* of `second`.

    Lengths are shared round-robin (a short segment is kept whole, two long ones get half each). The rule
    depends only on the displayed order, never on the label, so it leaks nothing; it keeps what NSP and SOP are
    about (does this continue that?), which end-truncation (keras-hub's packer) cuts off whenever a pair is
    too long (most pairs: chunks overshoot their target by part of a sentence)."""
    import tensorflow as tf

    l1, l2 = first.row_lengths(), second.row_lengths()
    budget = tf.constant(budget, l1.dtype)
    keep1 = tf.minimum(l1, tf.maximum(budget // 2, budget - l2))
    keep2 = tf.minimum(l2, budget - keep1)
    pos1, pos2 = tf.ragged.range(l1), tf.ragged.range(l2)
    first = tf.ragged.boolean_mask(first, pos1 >= tf.expand_dims(l1 - keep1, 1))
    second = tf.ragged.boolean_mask(second, pos2 < tf.expand_dims(keep2, 1))
    return first, second


def pretraining_dataset(documents, tokenizer, seq_len: int = 128, batch_size: int = 32, objective: str = "nsp",
                        max_predictions: int | None = None, mask_rate: float = 0.15, whole_word: bool = True,
                        max_ngram: int | None = None, seed: int = 0, shuffle_buffer: int = 2048,
                        cache: bool | str = False, repeat: bool = False, stats: PipelineStats | None = None):
    """A `tf.data.Dataset` of `(features, labels)` batches for `BertPretrainer` / `AlbertPretrainer`.

    Args:
        documents: a `tf.data.Dataset` of document strings, a `Corpus`, or any source
            `kbert.data.corpus.text_dataset` takes ("bundled", a file, a folder, "tfds:NAME").
            Streamed: documents are read, split and tokenized lazily.
        tokenizer: a keras-hub BERT / DistilBERT / ALBERT tokenizer.
        seq_len: packed length `[CLS] A [SEP] B [SEP]` (>= 8). Sentences are grouped into chunks of
            about `seq_len - 3` tokens; each chunk is cut at a random sentence boundary into A and B;
            over-long pairs are truncated round-robin around the junction (`keep_junction`: the end of the
            first segment and the start of the second survive).
        objective: "nsp" (B is the real continuation or, for half the pairs, the B of a pair from another
            document in the shuffle buffer) or "sop" (A, B in order, or swapped for half the pairs).
        max_predictions: P masked positions per example; default `round(seq_len * mask_rate) + 1`.
        whole_word / max_ngram: masking; max_ngram defaults to 1 for "nsp" (BERT) and 3 for "sop" (ALBERT).
        seed: makes the whole stream deterministic; masks, pair splits and NSP/SOP coins are re-drawn
            on every pass over the data (dynamic masking), and still deterministic under `seed`.
        shuffle_buffer: segment pairs shuffled in a buffer of this size (0 = no shuffle).
        cache: True (memory) or a file path prefix: cache the tokenized documents; everything random
            happens after the cache, so masks still change every epoch.
        repeat: repeat forever (use with `steps_per_epoch`).
        stats: a `PipelineStats` to count documents and single-sentence documents (skipped: no pair).

    Returns:
        Batches (drop_remainder, static shapes): features `token_ids`, `padding_mask`, `segment_ids`
        int32 [B, seq_len], `mask_positions` int32 [B, P]; labels `mlm_ids` int32 [B, P],
        `mlm_weights` float32 [B, P], `pair_label` int32 [B] (0 in order / real next, 1 swapped / random).
    """
    import keras_hub
    import tensorflow as tf

    from kbert.data.corpus import text_dataset
    from kbert.data.sentences import split_sentences

    if objective not in OBJECTIVES:
        raise KbertInputError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if int(seq_len) < MIN_SEQ_LEN:
        raise KbertInputError(f"seq_len {seq_len} is too small for segment pairs; use at least {MIN_SEQ_LEN}")
    if int(batch_size) < 1:
        raise KbertInputError(f"batch_size must be >= 1, got {batch_size}")
    seq_len = int(seq_len)
    max_predictions = int(max_predictions or round(seq_len * mask_rate) + 1)
    if max_ngram is None:
        max_ngram = 3 if objective == "sop" else 1
    ids = _special_ids(tokenizer)
    masker = Masker.from_tokenizer(tokenizer, max_predictions, whole_word, max_ngram, mask_rate)
    stats = stats if stats is not None else PipelineStats()
    target = seq_len - 3
    seeds = tf.random.experimental.stateless_split([seed, 0x6B62], 4).numpy()

    def split(doc):
        sents = split_sentences(doc.decode("utf-8", "replace"))
        stats.documents += 1
        stats.sentences += len(sents)
        if len(sents) < 2:
            stats.single_sentence_documents += 1
            if stats.single_sentence_documents in (1, 10, 100, 1000) or stats.single_sentence_documents % 10000 == 0:
                log.warning("kbert pretraining: %d document(s) with fewer than 2 sentences skipped so far "
                            "(no segment pair possible)", stats.single_sentence_documents)
            return np.array([], dtype=object)
        return np.array([s.encode("utf-8") for s in sents], dtype=object)

    def tokenize(doc):
        sents = tf.numpy_function(split, [doc], tf.string, stateful=True)
        sents.set_shape([None])
        tokens = tokenizer(sents)
        if not isinstance(tokens, tf.RaggedTensor):
            tokens = tf.RaggedTensor.from_tensor(tokens, padding=ids["pad"])
        tokens = tf.cast(tokens, tf.int32)
        return tf.ragged.boolean_mask(tokens, tokens.row_lengths() > 0)

    docs = text_dataset(documents).map(tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    docs = docs.filter(lambda t: t.nrows() >= 2)
    if cache:
        docs = docs.cache(cache if isinstance(cache, str) else "")
    if repeat:
        docs = docs.repeat()

    def randoms(i):
        return tf.data.Dataset.random(seed=int(seeds[i][0]), rerandomize_each_iteration=True).map(
            lambda r: tf.stack([r, tf.constant(i, tf.int64)]))

    def pairs(doc, rnd):
        a, b = _doc_pairs(doc, rnd, target)
        return tf.data.Dataset.from_tensor_slices((a, b))

    # (A, B, document number): the number lets NSP take a random B only from another document.
    ex = tf.data.Dataset.zip((docs, randoms(0))).enumerate().flat_map(
        lambda d, x: pairs(*x).map(lambda a, b: (a, b, d)))
    if shuffle_buffer:
        ex = ex.shuffle(int(shuffle_buffer), seed=int(seeds[1][0]), reshuffle_each_iteration=True)

    if objective == "nsp":
        def swap_b(a, b, d, rnd):  # two neighbours: with p=0.5 exchange their B segments (both become random)
            coin = tf.random.stateless_uniform([], rnd) < 0.5
            swap = coin & (d[0] != d[1])
            b2 = tf.gather(b, tf.where(swap, [1, 0], [0, 1]))
            return tf.data.Dataset.from_tensor_slices((a, b2, tf.fill([2], tf.cast(swap, tf.int32))))
        ex = tf.data.Dataset.zip((ex.ragged_batch(2, drop_remainder=True), randoms(2))).flat_map(
            lambda x, rnd: swap_b(*x, rnd))
    else:
        def order(a, b, d, rnd):
            swap = tf.random.stateless_uniform([], rnd) < 0.5
            first, second = tf.cond(swap, lambda: (b, a), lambda: (a, b))
            return first, second, tf.cast(swap, tf.int32)
        ex = tf.data.Dataset.zip((ex, randoms(2))).map(lambda x, rnd: order(*x, rnd),
                                                      num_parallel_calls=tf.data.AUTOTUNE)

    packer = keras_hub.layers.MultiSegmentPacker(sequence_length=seq_len, start_value=ids["cls"],
                                                 end_value=ids["sep"], pad_value=ids["pad"],
                                                 truncate="round_robin")

    def finish(batch, rnd):
        a, b, label = batch
        token_ids, segment_ids = packer(keep_junction(a, b, target))
        token_ids = tf.ensure_shape(tf.cast(token_ids, tf.int32), [batch_size, seq_len])
        padding_mask = tf.cast(token_ids != ids["pad"], tf.int32)
        m = masker(token_ids, rnd, padding_mask=padding_mask)
        features = {
            "token_ids": m["token_ids"],
            "padding_mask": padding_mask,
            "segment_ids": tf.ensure_shape(tf.cast(segment_ids, tf.int32), [batch_size, seq_len]),
            "mask_positions": m["mask_positions"],
        }
        labels = {"mlm_ids": m["mlm_ids"], "mlm_weights": m["mlm_weights"],
                  "pair_label": tf.ensure_shape(label, [batch_size])}
        return features, labels

    ex = ex.ragged_batch(int(batch_size), drop_remainder=True)
    ex = tf.data.Dataset.zip((ex, randoms(1))).map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ex.prefetch(tf.data.AUTOTUNE)
