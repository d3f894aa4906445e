"""Train a WordPiece vocabulary (BERT, DistilBERT) or a SentencePiece model (ALBERT) from a corpus.

    >>> from kbert import tokenizer_training
    >>> tok = tokenizer_training.train_wordpiece("bundled", vocab_size=4000, out="runs/wp")   # doctest: +SKIP
    >>> tok = tokenizer_training.train_sentencepiece("bundled", vocab_size=4000, out="runs/sp")  # doctest: +SKIP

Both stream the corpus (any source `kbert.data.corpus.text_dataset` takes: "bundled", files, folders,
"tfds:NAME", a `tf.data.Dataset` of strings) and return a keras-hub tokenizer; with `out` they also
write the files `kbert.tokenizers.from_folder` loads (`vocab.txt` or `spiece.model`, plus
`tokenizer_config.json`), which the TFLite export bundles.

- WordPiece: keras-hub's `compute_word_piece_vocabulary` (tensorflow-text's BERT vocab learner),
  uncased with accents stripped, specials `[PAD] [UNK] [CLS] [SEP] [MASK]` at ids 0-4.
- SentencePiece: `sentencepiece` unigram model over split sentences with ALBERT's specials
  `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4, lower-cased (NFKC + case folding) as ALBERT
  (`lowercase=False`: a cased model); accents are kept (`keep_accents: true` in tokenizer_config.json).
"""

from __future__ import annotations

import os

from kbert.errors import KbertInputError

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ALBERT_SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
MIN_VOCAB = 64


def _check_size(vocab_size):
    if int(vocab_size) < MIN_VOCAB:
        raise KbertInputError(f"vocab size {vocab_size} is too small; use at least {MIN_VOCAB}")


def train_wordpiece(corpus="bundled", vocab_size: int = 8000, out: str | None = None, lowercase: bool = True,
                    max_documents: int | None = None):
    """Learn a WordPiece vocabulary; returns a keras-hub `BertTokenizer` (and writes `out/vocab.txt`)."""
    import keras_hub
    import tensorflow as tf

    from kbert import tokenizers
    from kbert.data.corpus import text_dataset

    _check_size(vocab_size)
    ds = text_dataset(corpus)
    if max_documents:
        ds = ds.take(max_documents)
    ds = ds.batch(64).prefetch(tf.data.AUTOTUNE)
    vocab = keras_hub.tokenizers.compute_word_piece_vocabulary(
        ds, vocabulary_size=int(vocab_size), lowercase=lowercase, strip_accents=lowercase,
        reserved_tokens=list(WORDPIECE_SPECIALS),
    )
    if len(vocab) <= len(WORDPIECE_SPECIALS):
        raise KbertInputError(f"corpus {corpus!r} produced an empty vocabulary")
    tok = tokenizers.wordpiece(vocab, family="bert", lowercase=lowercase)
    if out:
        tokenizers.save(tok, out)
    return tok


def _sentences(corpus, max_documents=None):
    from kbert.data.corpus import Corpus, open_corpus, text_dataset
    from kbert.data.sentences import split_sentences

    if isinstance(corpus, str) and not corpus.startswith("tfds:") or isinstance(corpus, (list, tuple, Corpus)):
        docs = iter(corpus if isinstance(corpus, Corpus) else open_corpus(corpus))
    else:
        docs = (d.decode("utf-8", "replace") for d in text_dataset(corpus).as_numpy_iterator())
    for i, doc in enumerate(docs):
        if max_documents and i >= max_documents:
            return
        yield from split_sentences(doc)


def train_sentencepiece(corpus="bundled", vocab_size: int = 8000, out: str | None = None,
                        model_type: str = "unigram", max_sentences: int = 2_000_000, max_documents=None,
                        seed: int = 0, lowercase: bool = True):
    """Learn a SentencePiece model with ALBERT's specials; returns a kbert `AlbertTokenizer`.

    `lowercase=True` (default) case-folds inside the model (`nmt_nfkc_cf`); `lowercase=False` keeps case
    (`nmt_nfkc`, as albert-*-v2's model, whose lower-casing is the tokenizer's `do_lower_case`)."""
    import io

    import sentencepiece as spm

    from kbert import tokenizers

    _check_size(vocab_size)
    model = io.BytesIO()
    if hasattr(spm, "set_random_generator_seed"):
        spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_sentences(corpus, max_documents),
            model_writer=model,
            vocab_size=int(vocab_size),
            model_type=model_type,
            pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            pad_piece="<pad>", unk_piece="<unk>",
            control_symbols=["[CLS]", "[SEP]", "[MASK]"],
            normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
            input_sentence_size=int(max_sentences), shuffle_input_sentence=True,
            character_coverage=0.9995, minloglevel=2, num_threads=2,
            hard_vocab_limit=False,
        )
    except RuntimeError as e:
        raise KbertInputError(f"SentencePiece training on {corpus!r} failed: {e}") from e
    # Lower-cased, accents kept: what the model's nmt_nfkc_cf normaliser saw in training (the saved
    # tokenizer_config.json says so, and transformers' AlbertTokenizer then gives the same ids).
    tok = tokenizers.sentencepiece(model.getvalue(), lowercase=lowercase, keep_accents=True)
    if out:
        tokenizers.save(tok, out)
    return tok


def train(kind: str, corpus="bundled", vocab_size: int = 8000, out: str | None = None, **kwargs):
    """`train_wordpiece` (kind "wordpiece") or `train_sentencepiece` (kind "sentencepiece")."""
    if kind == "wordpiece":
        return train_wordpiece(corpus, vocab_size, out, **kwargs)
    if kind == "sentencepiece":
        return train_sentencepiece(corpus, vocab_size, out, **kwargs)
    raise KbertInputError(f"unknown tokenizer kind {kind!r}; expected 'wordpiece' or 'sentencepiece'")


def family_kind(family: str) -> str:
    """The tokenizer kind a model family uses."""
    return "sentencepiece" if family == "albert" else "wordpiece"


def exists(out: str, kind: str) -> bool:
    from kbert import tokenizers

    return os.path.isfile(os.path.join(out, tokenizers.SPM_FILE if kind == "sentencepiece" else tokenizers.VOCAB_FILE))
