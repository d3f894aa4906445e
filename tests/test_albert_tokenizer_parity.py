"""ALBERT / SentencePiece parity: kbert's ids equal `transformers`' AlbertTokenizer and Google's ALBERT
preprocessing + the raw `sentencepiece` library, with the albert-*-v2 settings (do_lower_case=True,
keep_accents=False) and cased (do_lower_case=False), on real cased text, for a SentencePiece model
trained by kbert -- in eager mode, in tf.data and in a reloaded SavedModel."""

import itertools
import json
import shutil
import unicodedata

import numpy as np
import pytest

pytestmark = pytest.mark.parity

EDGE = [
    "Café naïve résumé — Ångström's ``quoted'' text, 1,234.56 and 1811, 42%!",
    "MR. DARCY  said:\t\"No!\"  ÉCOLE Straße ﬁ ½ Ünïcödé ΣΑΣ 9,000 men, 10, 11,",
    "  leading and trailing\u00a0spaces\u2003 ",
    "Elizabeth's \"pride\"—and (his) prejudice; 3rd of May, 1813... ¿Qué? Ça va.",
]


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    from kbert import tokenizer_training

    out = tmp_path_factory.mktemp("spm")
    tokenizer_training.train_sentencepiece("bundled", vocab_size=800, out=str(out), max_documents=6)
    return out


@pytest.fixture(scope="module")
def cased_dir(tmp_path_factory):
    """A cased model (nmt_nfkc, as albert-*-v2's), so that do_lower_case changes the ids."""
    from kbert import tokenizer_training

    out = tmp_path_factory.mktemp("spm_cased")
    tokenizer_training.train_sentencepiece("bundled", vocab_size=800, out=str(out), max_documents=6, lowercase=False)
    return out


@pytest.fixture(scope="module")
def texts():
    from kbert.data import corpus

    chapter = next(itertools.islice(corpus.bundled_documents(), 3, None))
    lines = [l.strip() for l in chapter.splitlines() if len(l.strip()) > 40][:30]
    return lines + EDGE


def _albert_preprocess(text, lowercase, keep_accents):
    """Google's ALBERT `preprocess_text` (tokenization.py)."""
    t = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    if not keep_accents:
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    return t.lower() if lowercase else t


def _reference_ids(model_file, text, lowercase, keep_accents, resplit_digit_comma=False):
    """ALBERT's preprocessing over the raw sentencepiece library; with `resplit_digit_comma`, also the
    original ALBERT code's re-split of "9,"-pieces (which transformers 5 no longer does)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_file)
    pieces = []
    for p in sp.encode(_albert_preprocess(text, lowercase, keep_accents), out_type=str):
        if resplit_digit_comma and len(p) > 1 and p[-1] == "," and p[-2].isdigit():
            cur = sp.encode(p[:-1].replace("\u2581", ""), out_type=str)
            if p[0] != "\u2581" and cur[0][0] == "\u2581":
                cur = cur[1:] if len(cur[0]) == 1 else [cur[0][1:]] + cur[1:]
            pieces += cur + [p[-1]]
        else:
            pieces.append(p)
    return [sp.piece_to_id(p) for p in pieces]


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased-v2-settings", "cased"])
def test_ids_equal_transformers_and_sentencepiece(cased_dir, texts, tmp_path, lowercase):
    import tensorflow as tf
    from transformers import AlbertTokenizer

    from kbert import tokenizers

    folder = tmp_path / "tok"
    shutil.copytree(cased_dir, folder)
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "AlbertTokenizer", "do_lower_case": lowercase, "keep_accents": False}))
    tok = tokenizers.from_folder(str(folder), "albert")
    assert (tok.hf_lowercase, tok.keep_accents) == (lowercase, False)
    hf = AlbertTokenizer.from_pretrained(str(folder))
    assert (hf.do_lower_case, hf.keep_accents) == (lowercase, False)

    want = [hf(t, add_special_tokens=False)["input_ids"] for t in texts]
    ref = [_reference_ids(str(folder / "spiece.model"), t, lowercase, False) for t in texts]
    assert want == ref
    eager = [list(np.asarray(x)) for x in tok(texts)]
    assert eager == want
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(8).map(tok)
    in_data = [list(r) for batch in ds for r in batch.to_list()]
    assert in_data == want

    # A SavedModel (what the serving export traces): the normalisation is TF ops inside the graph.
    module = tf.Module()
    module.tok = tok
    module.f = tf.function(lambda s: tok(s).to_tensor(-1), input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    served = tf.saved_model.load(str(tmp_path / "sm")).f(tf.constant(texts)).numpy()
    assert [[i for i in row if i >= 0] for row in served] == want
    # The settings change the ids on this text (so the test can fail).
    assert lowercase or any(w != r for w, r in zip(want, [_reference_ids(str(folder / "spiece.model"), t, True,
                                                                         False) for t in texts]))


def test_keep_accents_and_save_round_trip(spm_dir, tmp_path):
    from transformers import AlbertTokenizer

    from kbert import tokenizers

    tok = tokenizers.from_folder(str(spm_dir), "albert")  # kbert-trained: lower-cased, accents kept
    assert (tok.hf_lowercase, tok.keep_accents) == (True, True)
    hf = AlbertTokenizer.from_pretrained(str(spm_dir))
    assert [list(np.asarray(x)) for x in tok(EDGE)] == [hf(t, add_special_tokens=False)["input_ids"] for t in EDGE]
    stripped = tokenizers.sentencepiece(str(spm_dir / "spiece.model"), lowercase=True, keep_accents=False)
    assert list(np.asarray(stripped("café"))) != list(np.asarray(tok("café")))
    files = tokenizers.save(stripped, str(tmp_path / "saved"))
    again = tokenizers.from_folder(str(tmp_path / "saved"), "albert")
    assert "spiece.model" in files and (again.hf_lowercase, again.keep_accents) == (True, False)


def test_digit_comma_pieces_split_as_albert(cased_dir, tmp_path):
    """A model with "1811,"-style pieces (albert-*-v2's has them; kbert's training splits numbers off, so
    its models never do; here they are added to a kbert-trained model): kbert's ids equal transformers 5's
    and sentencepiece's, which use them; Google's original ALBERT code re-splits them (documented gap)."""
    import json

    import sentencepiece as spm
    import tensorflow as tf
    from sentencepiece import sentencepiece_model_pb2
    from transformers import AlbertTokenizer

    from kbert import tokenizers

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString((cased_dir / "spiece.model").read_bytes())
    have = {p.piece for p in model.pieces}
    digits = [d for d in "0123456789" if d not in have]  # a vocabulary that spells every number
    for text, score in [(d, -9.0) for d in digits] + [(p, -2.0) for p in ("\u25811811,", "\u258112,", "9,", "\u25814,")]:
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = text, score, piece.NORMAL
    out = tmp_path / "spm"
    out.mkdir()
    (out / "spiece.model").write_bytes(model.SerializeToString())
    (out / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "keep_accents": False}))
    sp = spm.SentencePieceProcessor(model_file=str(out / "spiece.model"))
    texts = ["In 1811, they met; by 1812, 3, 7, they wed.", "Chapter 4, page 12, line 19, 1811,1812"]
    assert any(p in sp.encode(t.lower(), out_type=str) for t in texts for p in ("\u25811811,", "\u258112,"))
    tok = tokenizers.from_folder(str(out), "albert")
    hf = AlbertTokenizer.from_pretrained(str(out))
    want = [hf(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert want == [_reference_ids(str(out / "spiece.model"), t, True, False) for t in texts]
    assert [list(np.asarray(x)) for x in tok(texts)] == want
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(tok)
    assert [list(r) for batch in ds for r in batch.to_list()] == want
    google = [_reference_ids(str(out / "spiece.model"), t, True, False, resplit_digit_comma=True) for t in texts]
    assert google != want  # the case is exercised: the original ALBERT code differs on exactly these


def test_serving_export_tokenizes_as_eager(cased_dir, texts, tmp_path):
    """The TF Serving SavedModel's raw-text signature: ALBERT's preprocessing is traced into it, so its
    logits equal the Keras model's on eagerly tokenized text (and differ if the preprocessing were lost)."""
    import json

    import keras
    import tensorflow as tf

    import kbert
    from kbert import tokenizers
    from kbert.export.serving import export_serving
    from kbert.model_dir import save_model_dir
    from kbert.preprocessing import TextPreprocessor
    from kbert.tasks.classifier import build_classifier

    folder = tmp_path / "tok"
    shutil.copytree(cased_dir, folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "keep_accents": False}))
    tok = tokenizers.from_folder(str(folder), "albert")
    keras.utils.set_random_seed(0)
    encoder = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), num_layers=2,
                                    max_sequence_length=64)
    model = build_classifier(encoder, 3)
    md = save_model_dir(tmp_path / "md", model, tok, task="classify", seq_len=48, labels=["a", "b", "c"],
                        pair=False, multi_label=False)
    path = export_serving(md, str(tmp_path / "serving"), warmup=False)
    sample = texts[-len(EDGE):] + texts[:4]
    served = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(sample))["logits"].numpy()
    eager = np.asarray(model(TextPreprocessor(tok, seq_len=48)(sample), training=False)["logits"])
    np.testing.assert_allclose(served, eager, atol=1e-5)
    raw = tokenizers.sentencepiece(str(folder / "spiece.model"))  # no do_lower_case / accent stripping
    unnormalised = np.asarray(model(TextPreprocessor(raw, seq_len=48)(sample), training=False)["logits"])
    assert np.abs(unnormalised - served).max() > 1e-3


def test_old_model_dir_without_keep_accents_tokenizes_as_trained(cased_dir, tmp_path):
    """A model directory saved before kbert applied do_lower_case/keep_accents (its tokenizer_config.json
    is exactly {"tokenizer_class": "AlbertTokenizer", "do_lower_case": true}) ran keras-hub's tokenizer with
    no preprocessing: it loads that way again (one warning), not with Hugging Face's defaults."""
    import warnings

    import keras
    import keras_hub

    import kbert
    from kbert import tokenizers
    from kbert.model_dir import load_model_dir, save_model_dir
    from kbert.tasks.classifier import build_classifier

    proto = (cased_dir / "spiece.model").read_bytes()
    keras.utils.set_random_seed(0)
    old = keras_hub.models.AlbertTokenizer(proto=proto)  # what kbert built before the flags
    encoder = kbert.models.backbone("albert_tiny", vocabulary_size=old.vocabulary_size(), num_layers=1,
                                    max_sequence_length=32)
    md = save_model_dir(tmp_path / "md", build_classifier(encoder, 2), old, task="classify", seq_len=16,
                        labels=["a", "b"], pair=False, multi_label=False)
    cfg = tmp_path / "md" / "tokenizer_config.json"
    cfg.write_text(json.dumps({"tokenizer_class": "AlbertTokenizer", "do_lower_case": True}))  # the old file
    with pytest.warns(UserWarning, match="before it applied ALBERT's do_lower_case/keep_accents"):
        tok = load_model_dir(md).tokenizer
    want = [list(np.asarray(x)) for x in old(EDGE)]
    assert [list(np.asarray(x)) for x in tok(EDGE)] == want
    assert [list(np.asarray(x)) for x in tokenizers.sentencepiece(proto, True, False)(EDGE)] != want  # HF defaults
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenizers.from_folder(str(tmp_path / "md"), "albert")  # once per folder
        # Saved again, it records that it does no preprocessing: same tokenizer, no guess, no warning.
        tokenizers.save(tok, str(tmp_path / "again"))
        again = tokenizers.from_folder(str(tmp_path / "again"), "albert")
    assert [list(np.asarray(x)) for x in again(EDGE)] == want
    # A Hugging Face folder recording the same two settings plus keep_accents keeps Hugging Face's meaning.
    cfg.write_text(json.dumps({"tokenizer_class": "AlbertTokenizer", "do_lower_case": True, "keep_accents": False}))
    assert (tokenizers.from_folder(str(tmp_path / "md"), "albert").keep_accents, True) == (False, True)
