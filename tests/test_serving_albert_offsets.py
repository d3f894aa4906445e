"""ALBERT NER/QA serving on cased text with accents: the raw-text signatures tokenize with the tokenizer's
do_lower_case / keep_accents preprocessing (ids equal the eager tokenizer's), and the character offsets
they return slice the ORIGINAL string, although lower-casing and accent stripping change its length."""

import itertools
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert import tokenizers
from kbert._compat import keras_hub as hub_compat
from kbert.export.serving import Signatures
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.preprocessing import TextPreprocessor

NAMES = ["Élise Bennet and Zoë O'Brien met MR. DARCY at Ångström Hall; İzmir's Straße, ﬁne ``quoted'' Ünïcödé!",
         "Cafe\u0301 na\u0308ive   Jos\u00e9  Nuñez\t(1811)  ",
         "  Señor GÖDEL, Æsop and Ørsted: ½ ΣΑΣ 9,000 men — ''done''. "]
SETTINGS = [(True, False), (False, True), (True, True), (False, False)]


@pytest.fixture(scope="module")
def cased_model(tmp_path_factory):
    """A cased SentencePiece model (nmt_nfkc, as albert-*-v2's), so do_lower_case changes the ids."""
    from kbert import tokenizer_training

    out = tmp_path_factory.mktemp("spm_cased")
    tokenizer_training.train_sentencepiece("bundled", vocab_size=800, out=str(out), max_documents=6, lowercase=False)
    return str(out / "spiece.model")


@pytest.fixture(scope="module")
def texts():
    from kbert.data import corpus

    chapter = next(itertools.islice(corpus.bundled_documents(), 3, None))  # Austen, cased
    lines = [line.strip() for line in chapter.splitlines() if len(line.strip()) > 40][:6]
    return lines + NAMES


def _check_span(span, piece, lowercase, keep_accents):
    """The original text a piece maps to normalises (ALBERT's preprocessing, then SentencePiece's NFKC)
    to the piece."""
    norm = unicodedata.normalize("NFKC", tokenizers.albert_normalize_python(span, lowercase, keep_accents))
    assert norm.replace(" ", "") == piece.replace("\u2581", ""), (span, piece)


def _check_pieces(text, pieces, starts, ends, lowercase, keep_accents, complete=True):
    """Spans in order, each normalising to its piece (unless it overlaps a neighbour: one character that
    normalised to several, e.g. "ﬁ"), together covering the text's non-space characters."""
    covered = set()
    for k, (piece, a, b) in enumerate(zip(pieces, starts, ends)):
        assert 0 <= a <= b <= len(text) and (k == 0 or a >= starts[k - 1])
        covered.update(range(a, b))
        shared = (k and a < ends[k - 1]) or (k + 1 < len(pieces) and starts[k + 1] < b)
        if piece != "<unk>" and not shared:
            _check_span(text[a:b], piece, lowercase, keep_accents)
    if complete:
        assert {i for i, c in enumerate(text) if not c.isspace()} <= covered


@pytest.mark.parametrize("lowercase,keep_accents", SETTINGS)
def test_offsets_map_back_to_original_text(cased_model, texts, lowercase, keep_accents):
    tok = tokenizers.sentencepiece(cased_model, lowercase=lowercase, keep_accents=keep_accents)
    text = tf.constant(texts)
    ids, starts, ends = hub_compat.sentencepiece_op(tok).tokenize_with_offsets(
        tokenizers.albert_normalize_tf(text, lowercase, keep_accents))
    starts, ends = tokenizers.albert_offsets_to_original(text, tf.cast(starts, tf.int32), tf.cast(ends, tf.int32),
                                                         lowercase, keep_accents)
    assert ids.to_list() == [list(np.asarray(x)) for x in tok(texts)]
    for i, t in enumerate(texts):
        raw = t.encode()
        char = lambda b: len(raw[:b].decode())  # noqa: E731  (byte -> character offset)
        pieces = [tok.id_to_token(int(x)) for x in ids[i].numpy()]
        _check_pieces(t, pieces, [char(b) for b in starts[i].numpy()], [char(b) for b in ends[i].numpy()],
                      lowercase, keep_accents)


@pytest.fixture(scope="module")
def served(cased_model, tmp_path_factory):
    """NER and QA raw-text serving signatures of a cased ALBERT model with the albert-*-v2 settings."""
    from kbert.tasks.question_answerer import build_question_answerer
    from kbert.tasks.token_classifier import build_token_classifier

    root = tmp_path_factory.mktemp("albert_serving")
    tok = tokenizers.sentencepiece(cased_model, lowercase=True, keep_accents=False)
    out = {}
    for task, seq in (("ner", 48), ("qa", 64)):
        keras.utils.set_random_seed(0)
        enc = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), num_layers=1,
                                    max_sequence_length=64)
        model = build_token_classifier(enc, 3) if task == "ner" else build_question_answerer(enc)
        md = save_model_dir(root / task, model, tok, task, seq, **({"labels": ["O", "B", "I"]} if task == "ner" else {}))
        md = load_model_dir(md)
        out[task] = (md, Signatures(md).raw_text)  # the functions export_serving saves (saving is tested elsewhere)
    return tok, out


def test_ner_serving_ids_and_spans_on_cased_accented_text(served, texts):
    tok, models = served
    md, loaded = models["ner"]
    out = {k: v.numpy() for k, v in loaded(text=tf.constant(texts)).items()}
    eager = TextPreprocessor(tok, seq_len=md.seq_len)(texts)
    np.testing.assert_allclose(out["logits"], np.asarray(md.model(eager, training=False)["logits"]), atol=1e-5)
    for i, text in enumerate(texts):
        real = out["start"][i] >= 0
        all_ids = [int(x) for x in np.asarray(tok(text))]
        ids = all_ids[: md.seq_len - 2]
        pieces = [p.decode() for p in out["tokens"][i][real]]
        assert pieces == [tok.id_to_token(x) for x in ids]  # the ids the tokenizer gives, not raw-text ids
        starts, ends = out["start"][i][real], out["end"][i][real]
        # Leading whitespace a "▁" piece absorbs is left out of its span (serving's convention).
        assert all(not text[a:b][:1].isspace() for a, b in zip(starts, ends))
        _check_pieces(text, pieces, list(starts), list(ends), True, False, complete=ids == all_ids)


def test_qa_serving_ids_and_answer_spans_on_cased_accented_text(served, texts):
    tok, models = served
    md, loaded = models["qa"]
    questions = ["Who met MR. DARCY?", "WHERE is İzmir?", "Ça va?"] * 3
    contexts = texts[-3:] * 2 + texts[:3]
    out = {k: v.numpy() for k, v in loaded(
        question=tf.constant(questions), context=tf.constant(contexts)).items()}
    eager = TextPreprocessor(tok, seq_len=md.seq_len)((questions, contexts))
    np.testing.assert_allclose(out["start_logits"], np.asarray(md.model(eager, training=False)["start_logits"]),
                               atol=1e-5)
    ids = np.asarray(eager["token_ids"])
    for i, context in enumerate(contexts):
        a, b = out["start"][i], out["end"][i]
        assert out["answer"][i].decode() == context[a:b]  # character offsets into the original context
        pieces = [tok.id_to_token(int(x)) for x in ids[i][out["start_token"][i]:out["end_token"][i] + 1]]
        if "<unk>" not in pieces and "ﬁ" not in context[a:b]:
            _check_span(context[a:b].strip(), "".join(pieces), True, False)
