"""Tokenizers for the three families, on keras-hub's tokenizer classes.

    >>> from kbert import tokenizers
    >>> tok = tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"])
    >>> tok(["Hello world"])
    [[5, 6]]

What kbert adds to keras-hub: Hugging Face's BERT normalisation (keras-hub's loader leaves accent
stripping off, case-folds with NFKC and splits on control characters, so its ids differ from
the ones a checkpoint was trained with); the same for ALBERT's SentencePiece (`do_lower_case`,
`keep_accents` of a Hugging Face folder, which keras-hub's `AlbertTokenizer` ignores: ids equal
`transformers`' `AlbertTokenizer` and Google's ALBERT preprocessing + `sentencepiece`); loading from a
checkpoint folder with checks that name the bad file, and saving next to a model so that exports find
the vocabulary.
"""

from __future__ import annotations

import json
import os
import unicodedata

import keras
import keras_hub

from kbert._compat import keras_hub as hub_compat
from kbert._compat.sentencepiece import make_durable
from kbert.errors import KbertInputError
from kbert.models.albert import AlbertBackbone
from kbert.models.bert import BertBackbone
from kbert.models.keras_hub_tasks import TEXT_CLASSIFIERS  # noqa: F401 (registers kbert's keras-hub task classes)

WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCAB_FILE = "vocab.txt"
SPM_FILE = "spiece.model"
CONFIG_FILE = "tokenizer_config.json"


def hf_normalize_python(text: str, lowercase: bool, strip_accents: bool) -> str:
    """Hugging Face's BertNormalizer (the fast tokenizer's) on one Python string: drop NUL,
    U+FFFD and control/format characters, map whitespace to spaces, strip accents (NFD, drop
    non-spacing marks), lower-case."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            out.append(" ")
        elif ch == "\ufffd" or cat in ("Cc", "Cf", "Co", "Cs"):  # dropped (NUL is Cc); unassigned (Cn)
            continue                                                  # stays and becomes [UNK], as in HF
        elif cat[0] == "Z":  # Zs, Zl, Zp
            out.append(" ")
        else:
            out.append(ch)
    text = "".join(out)
    if strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    # Per character, like HF's Rust normalizer (so a word-final "Σ" becomes "σ", not "ς").
    return "".join(c.lower() for c in text) if lowercase else text


def hf_normalize_tf(text, lowercase: bool, strip_accents: bool):
    """The same normalisation with TensorFlow ops (tf.data pipelines, SavedModels)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    text = tf.strings.regex_replace(text, r"[\t\n\r]", " ")
    text = tf.strings.regex_replace(text, r"[\x{FFFD}\p{C}]", "")
    text = tf.strings.regex_replace(text, r"\p{Z}", " ")
    if strip_accents:
        text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFD"), r"\p{Mn}", "")
    if lowercase:
        # Per character, as HF's normalizer does: ICU would turn a word-final capital sigma into
        # "ς" from context, so map it to "σ" first.
        text = tf.strings.lower(tf.strings.regex_replace(text, "\u03a3", "\u03c3"), encoding="utf-8")
    return text


def albert_normalize_python(text: str, lowercase: bool, keep_accents: bool) -> str:
    """ALBERT's preprocessing before SentencePiece (Google's `preprocess_text`, Hugging Face's
    `AlbertTokenizer` normalizers): collapse whitespace, ``/'' -> ", NFKD and drop non-spacing marks
    unless `keep_accents`, lower-case (per character, as the Rust normalizer) if `lowercase`."""
    text = " ".join(text.split()).replace("``", '"').replace("''", '"')
    if not keep_accents:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")
    return "".join(c.lower() for c in text) if lowercase else text


def albert_normalize_tf(text, lowercase: bool, keep_accents: bool):
    """`albert_normalize_python` with TensorFlow ops (tf.data pipelines, SavedModels)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    # Python's str.split() whitespace: ASCII space/controls, the \x1c-\x1f separators, NEL, \p{Z}.
    text = tf.strings.regex_replace(text, r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+", " ")
    text = tf.strings.regex_replace(text, r"^ | $", "")
    text = tf.strings.regex_replace(text, "``|''", '"')
    if not keep_accents:
        text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFKD"), r"\p{Mn}", "")
    if lowercase:
        text = _lower_utf8(tf.strings.regex_replace(text, "\u03a3", "\u03c3"))
    return text


def albert_offsets_to_original(text, starts, ends, lowercase: bool, keep_accents: bool):
    """Map byte offsets into `albert_normalize_tf(text)` back to byte offsets into `text` [B].

    `starts`/`ends`: ragged [B, T] int32 (e.g. SentencePiece's offsets on the normalised text). The
    normalisation is replayed one character at a time (each original character becomes a known,
    possibly empty, piece of the normalised text: "É" -> "e", "İ" -> "i" + U+0307 when accents are
    kept, a combining accent or the second "`" of "``" -> nothing, a whitespace run -> one space), so
    every normalised byte belongs to one original character. A start maps to the start of its
    character, an end to the end of its character, extended over the characters that normalised to
    nothing right after it (a stripped combining accent stays inside the word). Where one original
    character becomes several normalised ones and a piece boundary falls between them ("ﬁ" -> "fi",
    "İ" -> "i̇"), both pieces map to the whole character (their spans overlap). The per-character
    replay equals the whole-string NFKD up to the order of combining marks, which has the same length.
    """
    import tensorflow as tf
    import tensorflow_text as tf_text

    chars, o_start = tf.strings.unicode_split_with_offsets(text, "UTF-8")
    flat, rows = chars.flat_values, chars.value_rowids()
    o_start = tf.cast(o_start.flat_values, tf.int32)
    o_end = o_start + tf.strings.length(flat)
    n = tf.size(flat)
    idx = tf.range(n)
    first = tf.concat([[True], rows[1:] != rows[:-1]], 0)[:n]  # first character of its row
    last = tf.concat([rows[1:] != rows[:-1], [True]], 0)[:n]

    out = flat
    if not keep_accents:
        out = tf.strings.regex_replace(tf_text.normalize_utf8(out, "NFKD"), r"\p{Mn}", "")
    if lowercase:
        out = _lower_utf8(tf.strings.regex_replace(out, "\u03a3", "\u03c3"))
    # Whitespace: a run between two words becomes one space; leading/trailing runs vanish.
    ws = tf.strings.regex_full_match(flat, r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]")
    word = tf.cast(~ws, tf.int32)
    cum = tf.cumsum(word)  # inclusive, global
    starts_of_rows = tf.cast(chars.row_splits[:-1], tf.int32)
    row_first_cum = tf.gather(cum - word, tf.gather(starts_of_rows, rows))  # words before the row
    words_before = cum - word - row_first_cum
    row_total = tf.gather(cum, tf.gather(tf.cast(chars.row_splits[1:], tf.int32) - 1, rows))
    words_after = row_total - cum
    prev_ws = tf.where(first, True, tf.gather(ws, tf.maximum(idx - 1, 0)))
    out = tf.where(ws, tf.where((words_before > 0) & (words_after > 0) & ~prev_ws, " ", ""), out)
    # "``" and "''" -> '"', left to right: in a run of k, even positions pair with the next, odd vanish.
    for q in ("`", "'"):
        is_q = tf.equal(flat, q)
        prev_q = tf.where(first, False, tf.gather(is_q, tf.maximum(idx - 1, 0)))
        next_q = tf.where(last, False, tf.gather(is_q, tf.minimum(idx + 1, tf.maximum(n - 1, 0))))
        q_cum = tf.cumsum(tf.cast(is_q, tf.int32))
        run_start = is_q & ~prev_q
        run_base = tf.concat([tf.boolean_mask(q_cum, run_start) - 1, [0]], 0)  # padded: no run at all
        base = tf.gather(run_base, tf.maximum(tf.cumsum(tf.cast(run_start, tf.int32)) - 1, 0))
        pos = q_cum - base - 1
        odd = tf.math.floormod(pos, 2) == 1
        out = tf.where(is_q, tf.where(odd, "", tf.where(next_q, '"', q)), out)

    # Global coordinates: row r's normalised text starts where row r-1's ended.
    out_len = tf.strings.length(out)
    n_end = tf.cumsum(out_len)  # global normalised end of each character
    row_len = tf.math.unsorted_segment_sum(out_len, rows, tf.shape(chars.row_splits)[0] - 1)
    row_norm_base = tf.cumsum(row_len, exclusive=True)
    # A character that normalised to nothing and is no whitespace belongs to the one before it.
    stop = tf.concat([first | (out_len > 0) | ws, [True]], 0)
    stop_cum = tf.cumsum(tf.cast(stop, tf.int32))
    nxt = tf.searchsorted(stop_cum, stop_cum[:n], side="right", out_type=tf.int32)  # first stop after
    ext_end = tf.gather(o_end, tf.maximum(nxt - 1, 0))
    big = tf.constant([2 ** 30], tf.int32)
    sorted_ends = tf.concat([n_end, big], 0)
    o_start_pad = tf.concat([o_start, [0]], 0)
    ext_end_pad = tf.concat([ext_end, [0]], 0)

    def to_original(offsets, is_end):
        offsets = tf.cast(offsets, tf.int32)
        base = tf.gather(row_norm_base, offsets.value_rowids())
        g = offsets.flat_values + base - (1 if is_end else 0)
        i = tf.searchsorted(sorted_ends, g, side="right", out_type=tf.int32)  # character holding byte g
        return offsets.with_flat_values(tf.gather(ext_end_pad if is_end else o_start_pad, tf.minimum(i, n)))

    o_starts = to_original(starts, False)
    # An empty piece (SentencePiece's lone "▁" before the text) stays empty.
    return o_starts, o_starts.with_flat_values(tf.where(ends.flat_values > starts.flat_values,
                                                        to_original(ends, True).flat_values, o_starts.flat_values))


def _lower_utf8(text):
    """`tf.strings.lower(..., encoding="utf-8")`, which stops at the first NUL byte (it drops the rest of
    the string); ALBERT keeps NULs for SentencePiece to handle, so lower-case between them."""
    import tensorflow as tf

    def lower_each(parts):
        return tf.strings.join([tf.strings.lower(parts, encoding="utf-8"), "\x00"])  # NUL as a tensor, not an attr

    joined = tf.strings.reduce_join(tf.ragged.map_flat_values(lower_each, tf.strings.split(text, "\x00")), axis=-1)
    drop_last = lambda s: tf.strings.substr(s, tf.zeros_like(tf.strings.length(s)), tf.strings.length(s) - 1)  # noqa: E731
    return tf.ragged.map_flat_values(drop_last, joined) if isinstance(joined, tf.RaggedTensor) else drop_last(joined)


class _HFNormalization:
    """Mixin for keras-hub WordPiece tokenizers: normalise text exactly as Hugging Face's BERT
    tokenizers do, then let keras-hub split and WordPiece it.

    keras-hub lower-cases with NFKC case folding (so "ＦＵＬＬ" becomes "full" and "½" becomes
    "1⁄2") and splits on control characters instead of deleting them ("ctrl\\x00char" becomes two
    words); Hugging Face does neither. Token ids then differ from the ones the checkpoint was
    trained with. Here `lowercase`/`strip_accents` run before keras-hub sees the text.
    """

    def __init__(self, vocabulary=None, lowercase=False, strip_accents=None, **kwargs):
        self.hf_lowercase = bool(lowercase)
        self.hf_strip_accents = bool(lowercase if strip_accents is None else strip_accents)
        super().__init__(vocabulary=vocabulary, lowercase=False, strip_accents=False, **kwargs)

    def tokenize(self, inputs):
        if hub_compat.use_tf_workflow(self):
            import tensorflow as tf

            if not isinstance(inputs, tf.RaggedTensor):
                inputs = tf.convert_to_tensor(inputs)
            inputs = hf_normalize_tf(inputs, self.hf_lowercase, self.hf_strip_accents)
        else:
            inputs = hub_compat.map_python_strings(
                inputs, lambda t: hf_normalize_python(t, self.hf_lowercase, self.hf_strip_accents))
        return super().tokenize(inputs)

    def get_config(self):
        return {**super().get_config(), "lowercase": self.hf_lowercase, "strip_accents": self.hf_strip_accents}


@keras.saving.register_keras_serializable(package="kbert")
class BertTokenizer(_HFNormalization, keras_hub.models.BertTokenizer):
    """keras-hub's `BertTokenizer` with Hugging Face's normalisation (ids equal HF's)."""

    backbone_cls = BertBackbone  # so keras-hub's `Tokenizer.from_preset` finds it for a kbert preset


@keras.saving.register_keras_serializable(package="kbert")
class DistilBertTokenizer(_HFNormalization, keras_hub.models.DistilBertTokenizer):
    """keras-hub's `DistilBertTokenizer` with Hugging Face's normalisation (ids equal HF's)."""


@keras.saving.register_keras_serializable(package="kbert")
class AlbertTokenizer(keras_hub.models.AlbertTokenizer):
    """keras-hub's `AlbertTokenizer` with ALBERT's text preprocessing before SentencePiece.

    `lowercase` / `keep_accents` are Hugging Face's `do_lower_case` / `keep_accents` (albert-*-v2:
    True / False). The defaults (False / True) only collapse whitespace and map ``/'' to ", leaving the
    rest to the SentencePiece model's own normaliser (kbert-trained models case-fold there). Pieces
    such as "▁1811," are used as the model scores them, as `transformers` 5 and `sentencepiece` do
    (Google's original ALBERT code and transformers 4's slow tokenizer re-split them into "1811" + ",").
    """

    backbone_cls = AlbertBackbone  # so keras-hub's `Tokenizer.from_preset` finds it for a kbert preset

    def __init__(self, proto=None, lowercase=False, keep_accents=True, **kwargs):
        self.hf_lowercase = bool(lowercase)
        self.keep_accents = bool(keep_accents)
        super().__init__(proto=proto, **kwargs)

    def tokenize(self, inputs):
        if hub_compat.use_tf_workflow(self):
            import tensorflow as tf

            if not isinstance(inputs, tf.RaggedTensor):
                inputs = tf.convert_to_tensor(inputs)
            inputs = albert_normalize_tf(inputs, self.hf_lowercase, self.keep_accents)
        else:
            inputs = hub_compat.map_python_strings(
                inputs, lambda t: albert_normalize_python(t, self.hf_lowercase, self.keep_accents))
        return super().tokenize(inputs)

    def get_config(self):
        return {**super().get_config(), "lowercase": self.hf_lowercase, "keep_accents": self.keep_accents}


def read_vocab(path: str) -> list[str]:
    """Read a WordPiece vocabulary (one token per line) with clear errors."""
    if not os.path.isfile(path):
        raise KbertInputError(f"vocabulary file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            vocab = [line.rstrip("\n").rstrip("\r") for line in f]
    except UnicodeDecodeError as e:
        raise KbertInputError(f"vocabulary file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from e
    while vocab and vocab[-1] == "":
        vocab.pop()
    if not vocab:
        raise KbertInputError(f"vocabulary file {path} is empty")
    missing = [t for t in WORDPIECE_SPECIALS if t not in set(vocab)]
    if missing:
        raise KbertInputError(f"vocabulary file {path} lacks the special tokens {missing}")
    if len(set(vocab)) != len(vocab):
        seen, dups = set(), []
        for t in vocab:
            if t in seen:
                dups.append(t)
            seen.add(t)
        raise KbertInputError(f"vocabulary file {path} repeats tokens, e.g. {dups[:5]}")
    return vocab


def wordpiece(vocabulary, family: str = "bert", lowercase: bool = True, strip_accents: bool | None = None, **kwargs):
    """A keras-hub `BertTokenizer` / `DistilBertTokenizer` for a WordPiece vocabulary.

    `vocabulary` is a list of tokens or a `vocab.txt` path. `strip_accents` defaults to
    `lowercase`, as in Hugging Face's BERT tokenizers ("Café" -> "cafe" when uncased).
    """
    vocab = read_vocab(vocabulary) if isinstance(vocabulary, (str, os.PathLike)) else list(vocabulary)
    cls = DistilBertTokenizer if family == "distilbert" else BertTokenizer
    try:
        return cls(vocabulary=vocab, lowercase=lowercase, strip_accents=strip_accents, **kwargs)
    except ValueError as e:
        raise KbertInputError(f"invalid WordPiece vocabulary: {e}") from e


def sentencepiece(proto, lowercase: bool = False, keep_accents: bool = True, preprocess: bool = True, **kwargs):
    """A kbert `AlbertTokenizer` for a SentencePiece model (path or serialized bytes); `lowercase` and
    `keep_accents` as Hugging Face's `do_lower_case` / `keep_accents` (see `AlbertTokenizer`).
    `preprocess=False`: keras-hub's plain `AlbertTokenizer` (the model's own normaliser only), as kbert
    tokenized before it honoured those settings (see `from_folder`)."""
    if isinstance(proto, (str, os.PathLike)):
        if not os.path.isfile(proto):
            raise KbertInputError(f"SentencePiece model not found: {proto}")
        with open(proto, "rb") as f:
            proto = f.read()
    if not proto:
        raise KbertInputError("SentencePiece model is empty")
    import sentencepiece as spm

    try:  # Parse once in Python so a corrupt file is an error here, not deep inside TF.
        spm.SentencePieceProcessor(model_proto=proto)
    except Exception as e:
        raise KbertInputError(f"SentencePiece model is not valid: {e}") from e
    make_durable()  # its pipelines survive keras.utils.set_random_seed (tensorflow/text#570)
    try:
        if not preprocess:
            return keras_hub.models.AlbertTokenizer(proto=proto, **kwargs)
        return AlbertTokenizer(proto=proto, lowercase=lowercase, keep_accents=keep_accents, **kwargs)
    except ValueError as e:
        raise KbertInputError(f"SentencePiece model unusable for ALBERT: {e}") from e


def from_folder(path: str, family: str):
    """Load the tokenizer stored in a checkpoint folder (vocab.txt or spiece.model)."""
    config = {}
    cfg_path = os.path.join(path, CONFIG_FILE)
    if os.path.isfile(cfg_path):
        try:
            with open(cfg_path, encoding="utf-8") as f:
                config = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise KbertInputError(f"{cfg_path} is not valid JSON: {e}") from e
    vocab_path = os.path.join(path, VOCAB_FILE)
    spm_path = os.path.join(path, SPM_FILE)
    # The file present decides (an ALBERT encoder may be fine-tuned with a WordPiece vocabulary,
    # e.g. one trained by `kbert tokenizer train`); the family breaks a tie.
    if os.path.isfile(spm_path) and (family == "albert" or not os.path.isfile(vocab_path)):
        if config.get(RAW_KEY) is False or _written_before_albert_settings(config):
            if config.get(RAW_KEY) is not False:
                _warn_once(path, f"{cfg_path} was written by kbert before it applied ALBERT's do_lower_case/keep_accents "
                           "(it records no keep_accents): tokenizing as then, with the SentencePiece model's own "
                           "normaliser only, so ids equal the ones the model was trained with. To choose, add "
                           '"keep_accents" and "do_lower_case" to that file.')
            return sentencepiece(spm_path, preprocess=False)
        # Hugging Face's AlbertTokenizer defaults (albert-*-v2): lower-case, strip accents.
        return sentencepiece(spm_path, lowercase=bool(config.get("do_lower_case", True)),
                             keep_accents=bool(config.get("keep_accents", False)))
    if family == "albert" and not os.path.isfile(vocab_path):
        raise KbertInputError(f"no {SPM_FILE} in {path}: an ALBERT checkpoint needs its SentencePiece model")
    if not os.path.isfile(vocab_path):
        raise KbertInputError(f"no {VOCAB_FILE} in {path}: a {family} checkpoint needs its WordPiece vocabulary")
    lowercase = bool(config.get("do_lower_case", True))
    strip = config.get("strip_accents")
    return wordpiece(vocab_path, family=family, lowercase=lowercase, strip_accents=strip)


# tokenizer_config.json of a SentencePiece tokenizer without ALBERT's preprocessing (keras-hub's plain one).
RAW_KEY = "kbert_albert_preprocessing"
_LEGACY_KEYS = {"tokenizer_class", "do_lower_case"}  # all kbert wrote before keep_accents (commit 8229423)
_warned: set[str] = set()


def _written_before_albert_settings(config: dict) -> bool:
    """kbert's old tokenizer_config.json for a SentencePiece model, exactly `{"tokenizer_class":
    "AlbertTokenizer", "do_lower_case": true}`: it ran keras-hub's tokenizer with no preprocessing (the
    recorded do_lower_case was never applied). Hugging Face's own files record keep_accents and more."""
    return set(config) == _LEGACY_KEYS and config.get("tokenizer_class") == "AlbertTokenizer"


def _warn_once(key: str, message: str) -> None:
    import warnings

    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=3)


def save(tokenizer, path: str) -> list[str]:
    """Write the tokenizer's files into `path` (Hugging Face names); returns the file names."""
    os.makedirs(path, exist_ok=True)
    if isinstance(tokenizer, keras_hub.tokenizers.SentencePieceTokenizer):
        with open(os.path.join(path, SPM_FILE), "wb") as f:
            f.write(tokenizer.proto)
        # A plain keras-hub tokenizer does no preprocessing beyond the model's own normaliser.
        config = {"tokenizer_class": "AlbertTokenizer", "do_lower_case": bool(getattr(tokenizer, "hf_lowercase", False)),
                  "keep_accents": bool(getattr(tokenizer, "keep_accents", True)), "remove_space": True}
        if not isinstance(tokenizer, AlbertTokenizer):  # no whitespace / quote preprocessing either
            config[RAW_KEY] = False
        files = [SPM_FILE]
    else:
        with open(os.path.join(path, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(tokenizer.get_vocabulary()) + "\n")
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": bool(getattr(tokenizer, "hf_lowercase", tokenizer.lowercase)),
            "strip_accents": bool(getattr(tokenizer, "hf_strip_accents", tokenizer.strip_accents)),
        }
        files = [VOCAB_FILE]
    with open(os.path.join(path, CONFIG_FILE), "w") as f:
        json.dump(config, f, indent=2)
    return files + [CONFIG_FILE]
