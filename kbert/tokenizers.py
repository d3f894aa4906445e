"""Tokenizers for the three families, on keras-hub's tokenizer classes.

    >>> from kbert import tokenizers
    >>> tok = tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"])
    >>> tok(["Hello world"])
    [[5, 6]]

What kbert adds to keras-hub: Hugging Face's uncased normalisation (lower-case *and* strip
accents, which keras-hub's loader leaves off), loading from a checkpoint folder with checks
that name the bad file, and saving next to a model so that exports find the vocabulary.
"""

from __future__ import annotations

import json
import os

import keras_hub

from kbert.errors import KbertInputError

WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCAB_FILE = "vocab.txt"
SPM_FILE = "spiece.model"
CONFIG_FILE = "tokenizer_config.json"


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
    cls = keras_hub.models.DistilBertTokenizer if family == "distilbert" else keras_hub.models.BertTokenizer
    strip = lowercase if strip_accents is None else strip_accents
    try:
        return cls(vocabulary=vocab, lowercase=lowercase, strip_accents=strip, **kwargs)
    except ValueError as e:
        raise KbertInputError(f"invalid WordPiece vocabulary: {e}") from e


def sentencepiece(proto, **kwargs):
    """A keras-hub `AlbertTokenizer` for a SentencePiece model (path or serialized bytes)."""
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
    try:
        return keras_hub.models.AlbertTokenizer(proto=proto, **kwargs)
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
    if family == "albert":
        return sentencepiece(os.path.join(path, SPM_FILE))
    vocab_path = os.path.join(path, VOCAB_FILE)
    if not os.path.isfile(vocab_path):
        raise KbertInputError(f"no {VOCAB_FILE} in {path}: a {family} checkpoint needs its WordPiece vocabulary")
    lowercase = bool(config.get("do_lower_case", True))
    strip = config.get("strip_accents")
    return wordpiece(vocab_path, family=family, lowercase=lowercase, strip_accents=strip)


def save(tokenizer, path: str) -> list[str]:
    """Write the tokenizer's files into `path` (Hugging Face names); returns the file names."""
    os.makedirs(path, exist_ok=True)
    if isinstance(tokenizer, keras_hub.tokenizers.SentencePieceTokenizer):
        with open(os.path.join(path, SPM_FILE), "wb") as f:
            f.write(tokenizer.proto)
        config = {"tokenizer_class": "AlbertTokenizer", "do_lower_case": True}
        files = [SPM_FILE]
    else:
        with open(os.path.join(path, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(tokenizer.get_vocabulary()) + "\n")
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": bool(tokenizer.lowercase),
            "strip_accents": bool(tokenizer.strip_accents),
        }
        files = [VOCAB_FILE]
    with open(os.path.join(path, CONFIG_FILE), "w") as f:
        json.dump(config, f, indent=2)
    return files + [CONFIG_FILE]
