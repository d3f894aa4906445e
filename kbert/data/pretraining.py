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
    seeds = tf.random.experimental.stateless_split(tf.cast(tf.convert_to_tensor(seed), tf.int64), 4)
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
        u = tf.random.stateless_uniform([batch, length, 1], seeds[0])
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
    priority = tf.random.stateless_uniform([batch, length], seeds[1])
    priority = tf.where(span_tokens > 0, priority, 2.0)  # empty spans last
    order = tf.argsort(priority, axis=1)
    used = tf.cumsum(tf.gather(span_tokens, order, batch_dims=1), axis=1)
    keep_sorted = (used <= budget[:, None]) & (tf.gather(span_tokens, order, batch_dims=1) > 0)
    keep_span = tf.gather(keep_sorted, tf.argsort(order, axis=1), batch_dims=1)
    keep_span = tf.pad(keep_span, [[0, 0], [0, 1]])  # the unused bucket is never kept
    selected = tf.gather(keep_span, span, batch_dims=1) & candidate

    # 80% [MASK], 10% random token, 10% unchanged.
    u = tf.random.stateless_uniform([batch, length], seeds[2])
    random_ids = tf.random.stateless_uniform([batch, length], seeds[3], 0, vocabulary_size, tf.int32)
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
