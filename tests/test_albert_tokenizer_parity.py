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


def _reference_ids(model_file, text, lowercase, keep_accents):
    """Google's ALBERT `preprocess_text` + `encode_pieces` (tokenization.py) over raw sentencepiece."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_file)
    t = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    if not keep_accents:
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    if lowercase:
        t = t.lower()
    pieces = []
    for p in sp.encode(t, out_type=str):
        if len(p) > 1 and p[-1] == "," and p[-2].isdigit():  # ALBERT re-splits "9," pieces
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
