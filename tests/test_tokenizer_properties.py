"""Property tests over arbitrary Unicode text (0 to 100k characters) for every tokenizer path.

For WordPiece (the real MiniLM vocabulary) and SentencePiece (a tiny model trained here on real
text): the eager (Python) call, a tf.function graph, a tf.data pipeline, `TextPreprocessor` eagerly
and in tf.data, the TF Serving SavedModel and the string-in TFLite model that tokenize in their graphs. Properties: never a crash,
ids always in [0, vocabulary_size), packed length always exactly `seq_len`, special tokens in place.
Example counts are modest (the whole file takes about a minute on 2 cores).
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kbert
from kbert.preprocessing import TextPreprocessor

SEQ_LEN = 24
MAX_CHARS = 100_000
# No shrinking phase: a failure reports the generated example as is, and the run stays bounded.
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])

# Short text of any code point class (letters, marks, CJK, emoji, controls, whitespace, NUL...).
short_text = st.text(max_size=200)
# Long text up to 100k characters, built by repeating an arbitrary piece (also no-space runs).
long_text = st.builds(lambda piece, n: (piece * n)[:MAX_CHARS], st.text(min_size=1, max_size=40),
                      st.integers(min_value=1, max_value=MAX_CHARS))
any_text = st.one_of(short_text, short_text, long_text)
batches = st.lists(any_text, min_size=1, max_size=3)
# Assigned code points only: see test_unassigned_code_points_same_ids_on_both_paths for Cn.
assigned = st.characters(exclude_categories=["Cn"])
assigned_text = st.one_of(st.text(assigned, max_size=200),
                          st.builds(lambda piece, n: (piece * n)[:MAX_CHARS], st.text(assigned, min_size=1, max_size=40),
                                    st.integers(min_value=1, max_value=MAX_CHARS)))


@pytest.fixture(scope="module")
def wordpiece():
    return kbert.tokenizers.from_folder(kbert.assets.minilm_dir(), "bert")


@pytest.fixture(scope="module")
def sentencepiece(tmp_path_factory):
    from kbert import tokenizer_training

    sentences = open(os.path.join(kbert.assets.path("gensim"), "pang_lee_polarity.cor"), encoding="utf-8",
                     errors="replace").read()
    path = tmp_path_factory.mktemp("spm") / "corpus.txt"
    path.write_text(sentences + "\nCafé naïve 東京 😀 Ωμέγα\n", encoding="utf-8")
    return tokenizer_training.train_sentencepiece(str(path), vocab_size=300)


@pytest.fixture(params=["wordpiece", "sentencepiece"])
def tokenizer(request):
    return request.getfixturevalue(request.param)


_GRAPHS = {}


def graph_of(fn):
    """One tf.function per callable (traced once per input signature, not once per example)."""
    if id(fn) not in _GRAPHS:
        _GRAPHS[id(fn)] = (fn, tf.function(lambda x: fn(x), reduce_retracing=True))
    return _GRAPHS[id(fn)][1]


def _check_ids(ids, tokenizer):
    ids = np.asarray(ids)
    if ids.size:
        assert ids.dtype.kind == "i"
        assert ids.min() >= 0 and ids.max() < tokenizer.vocabulary_size()


def _ragged_rows(out):
    return [np.asarray(r) for r in (out.to_list() if isinstance(out, tf.RaggedTensor) else out.numpy().tolist())]


@SETTINGS
@given(text=any_text)
def test_eager_tokenize_any_text(tokenizer, text):
    ids = tokenizer(text)
    _check_ids(ids, tokenizer)
    if text.strip() == "":
        assert np.asarray(ids).size == 0 or tokenizer.vocabulary_size() > 0
    assert np.asarray(ids).ndim == 1


@SETTINGS
@given(texts=st.lists(assigned_text, min_size=1, max_size=3))
def test_graph_tokenize_matches_eager(tokenizer, texts):
    rows = _ragged_rows(graph_of(tokenizer)(tf.constant(texts)))
    assert len(rows) == len(texts)
    for text, row in zip(texts, rows):
        _check_ids(row, tokenizer)
        assert row.tolist() == np.asarray(tokenizer(text)).tolist()


def test_unassigned_code_points_same_ids_on_both_paths(wordpiece):
    text = "x\U000a9e1ay"  # U+A9E1A: unassigned (plane 10)
    graph = graph_of(wordpiece)(tf.constant([text])).to_list()[0]
    assert graph == [wordpiece.token_to_id("[UNK]")]  # as transformers' BertTokenizerFast
    assert np.asarray(wordpiece(text)).tolist() == graph


@SETTINGS
@given(texts=batches)
def test_tf_data_tokenize(tokenizer, texts):
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).map(tokenizer)
    rows = [np.asarray(r) for r in ds.as_numpy_iterator()]
    assert len(rows) == len(texts)
    for row in rows:
        _check_ids(row, tokenizer)


_PREPROCESSORS = {}


def preprocessor(tokenizer):
    if id(tokenizer) not in _PREPROCESSORS:
        _PREPROCESSORS[id(tokenizer)] = TextPreprocessor(tokenizer, seq_len=SEQ_LEN)
    return _PREPROCESSORS[id(tokenizer)]


def _check_packed(out, tokenizer, n):
    ids, mask = out["token_ids"].numpy(), out["padding_mask"].numpy()
    assert ids.shape == (n, SEQ_LEN) and mask.shape == (n, SEQ_LEN)
    _check_ids(ids, tokenizer)
    assert (ids[:, 0] == tokenizer.cls_token_id).all()
    lengths = mask.sum(1)
    assert ((lengths >= 2) & (lengths <= SEQ_LEN)).all()  # at least [CLS] [SEP], never past seq_len
    for row, length in zip(ids, lengths):
        assert row[length - 1] == tokenizer.sep_token_id
        assert (row[length:] == tokenizer.pad_token_id).all()
    if "segment_ids" in out:
        assert set(np.unique(out["segment_ids"].numpy())) <= {0, 1}


@SETTINGS
@given(texts=batches)
def test_preprocessor_eager_any_text(tokenizer, texts):
    pre = preprocessor(tokenizer)
    _check_packed(pre(texts), tokenizer, len(texts))


@settings(SETTINGS, max_examples=10)  # each example builds a tf.data pipeline (~1.4 s)
@given(a=batches, b=any_text)
def test_preprocessor_pairs_in_tf_data(tokenizer, a, b):
    pre = preprocessor(tokenizer)
    pairs = (tf.constant(a), tf.constant([b] * len(a)))
    ds = tf.data.Dataset.from_tensor_slices(pairs).batch(4).map(lambda x, y: pre((x, y)))
    for out in ds:
        _check_packed(out, tokenizer, len(a))
        assert (out["segment_ids"].numpy() <= out["padding_mask"].numpy()).all()  # no segment 1 in padding


@SETTINGS
@given(data=st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_preprocessor_arbitrary_bytes_in_graph(tokenizer, data):
    """Bytes that are not UTF-8 (what a tf.string can hold) go through the graph without a crash."""
    pre = preprocessor(tokenizer)
    try:
        out = graph_of(pre)(tf.constant(data))
    except tf.errors.InvalidArgumentError as e:  # an explicit error is acceptable, a crash is not
        assert "UTF-8" in str(e) or "utf" in str(e).lower(), e
        return
    _check_packed(out, tokenizer, len(data))


# ---- the TF Serving SavedModel: tokenization inside the exported graph -------------------------

@pytest.fixture(scope="module")
def serving_model(tmp_path_factory, wordpiece):
    serving = pytest.importorskip("kbert.export.serving")
    import tensorflow_text  # noqa: F401 - registers the tokenizer ops the SavedModel uses

    from kbert.model_dir import save_model_dir
    from kbert.tasks.classifier import build_classifier

    encoder = kbert.models.backbone("bert_tiny", vocabulary_size=wordpiece.vocabulary_size(), num_layers=1)
    model = build_classifier(encoder, num_classes=3)
    d = tmp_path_factory.mktemp("serving")
    save_model_dir(str(d / "model"), model, wordpiece, task="classify", seq_len=SEQ_LEN, labels=["a", "b", "c"],
                   pair=False, multi_label=False)
    path = serving.export_serving(str(d / "model"), str(d / "export"), warmup=False)
    return tf.saved_model.load(path).signatures["serving_default"]


@SETTINGS
@given(texts=batches)
def test_serving_savedmodel_any_text(serving_model, texts):
    out = serving_model(text=tf.constant(texts))
    logits = out["logits"].numpy()
    assert logits.shape == (len(texts), 3) and np.isfinite(logits).all()
    assert set(x.decode() for x in out["labels"].numpy().ravel()) <= {"a", "b", "c"}



# ---- the string-in TFLite model: WordPiece inside the flatbuffer (tf-text custom ops) ----------

@pytest.fixture(scope="module")
def string_in_tflite(wordpiece):
    string_in = pytest.importorskip("kbert.export.string_in")
    from kbert.tasks.classifier import build_classifier

    encoder = kbert.models.backbone("bert_tiny", vocabulary_size=wordpiece.vocabulary_size(), num_layers=1)
    return string_in, string_in.convert(build_classifier(encoder, num_classes=3), wordpiece, task="classify",
                                        seq_len=SEQ_LEN)


@settings(SETTINGS, max_examples=10)
@given(texts=batches)
def test_tflite_string_in_any_text(string_in_tflite, texts):
    string_in, content = string_in_tflite
    for out in string_in.run(content, texts):
        probs = np.asarray(out["probability"])
        assert probs.shape == (1, 3) and np.isfinite(probs).all()
        assert abs(float(probs.sum()) - 1.0) < 1e-4
