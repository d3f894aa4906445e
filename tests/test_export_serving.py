"""TF Serving export: signatures against the Keras models, offsets, odd input, versions, warmup,
fresh-process loading without kbert, saved_model_cli."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert.errors import KbertInputError
from kbert.export import serving, warmup
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.preprocessing import TextPreprocessor
from kbert.tasks.classifier import build_classifier

VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz.,!?'")
         + ["the", "film", "was", "great", "bad", "play", "##ing", "##s", "paris", "is", "in", "france",
            "where", "capital", "of", "what", "hello", "world", "##llo"])
TEXTS = ["The film was great!", "", "Paris is in France", "Héllo wörld, playing 東京", "bad bad bad film " * 20]
QUESTIONS = ["Where is Paris?", "What is the capital of France?", "", "where"]
CONTEXTS = ["Paris is in France.", "The capital of France is Paris, playing films.", "Paris", ""]
SEQ = 16


def _encoder(family="bert"):
    preset = {"bert": "bert_tiny", "distilbert": "distilbert_tiny"}[family]
    keras.utils.set_random_seed(0)
    return kbert.models.backbone(preset, vocabulary_size=len(VOCAB), max_sequence_length=64)


def _ner_model():
    from kbert.tasks.token_classifier import build_token_classifier

    return build_token_classifier(_encoder(), 3)


def _qa_model():
    from kbert.tasks.question_answerer import build_question_answerer

    return build_question_answerer(_encoder())


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Five model dirs (contract-conforming task models on tiny encoders), each exported once."""
    root = tmp_path_factory.mktemp("serving")
    tok = kbert.tokenizers.wordpiece(VOCAB)
    dtok = kbert.tokenizers.wordpiece(VOCAB, family="distilbert")
    from kbert.tasks.embedder import build_embedder

    specs = {
        "classify": (build_classifier(_encoder(), 3), tok, "classify", SEQ,
                     dict(labels=["negative", "neutral", "positive"], pair=False, multi_label=False)),
        "pair": (build_classifier(_encoder(), 2, multi_label=True), tok, "classify", SEQ,
                 dict(labels=["entails", "contradicts"], pair=True, multi_label=True)),
        "ner": (_ner_model(), tok, "ner", SEQ, dict(labels=["O", "B-LOC", "I-LOC"])),
        "qa": (_qa_model(), tok, "qa", 24, {}),
        "embed": (kbert.tasks.embedder.build_embedder(_encoder("distilbert")), dtok, "embed", SEQ, {}),
    }
    out = {}
    for name, (model, t, task, seq, meta) in specs.items():
        md_path = save_model_dir(root / f"md_{name}", model, t, task, seq, **meta)
        path = serving.export_serving(md_path, root / "models" / name)
        out[name] = {"md": load_model_dir(md_path), "path": path, "loaded": tf.saved_model.load(path)}
    return out


def keras_outputs(md, *texts):
    """What the Keras model says for raw text, via kbert's TextPreprocessor."""
    pre = TextPreprocessor(md.tokenizer, seq_len=md.seq_len, segments="segment_ids" in md.model.input)
    inputs = pre(texts[0] if len(texts) == 1 else tuple(texts))
    return inputs, {k: np.asarray(v) for k, v in md.model(inputs, training=False).items()}


def call(loaded, signature="serving_default", **inputs):
    fn = loaded.signatures[signature]
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(v, tf.string if k in ("text", "text_b", "question",
                                                                               "context") else tf.int32)
                                          for k, v in inputs.items()}).items()}


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ----- layout, versions, atomic writes ---------------------------------------------------------------


def test_layout_signatures_and_warmup_file(exports):
    for name, e in exports.items():
        path = e["path"]
        assert os.path.basename(path) == "1"
        assert sorted(os.listdir(os.path.dirname(path))) == ["1"], "no temporary directories left behind"
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        assert os.path.isfile(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
        assert {"serving_default", "from_token_ids"} <= set(e["loaded"].signatures)
    sig = exports["qa"]["loaded"].signatures["serving_default"]
    assert set(sig.structured_input_signature[1]) == {"question", "context"}
    assert set(exports["pair"]["loaded"].signatures["serving_default"].structured_input_signature[1]) == {"text", "text_b"}
    ids_sig = exports["embed"]["loaded"].signatures["from_token_ids"].structured_input_signature[1]
    assert set(ids_sig) == {"token_ids", "padding_mask"}  # DistilBERT: no segment ids


def test_versions_overwrite_and_atomic_failure(exports, tmp_path, monkeypatch):
    md = exports["classify"]["md"]
    base = tmp_path / "clf"
    shutil.copytree(exports["classify"]["path"], base / "1")
    (base / "not-a-version").mkdir()
    assert serving.versions(str(base)) == [1] and serving.next_version(str(base)) == 2
    pb = base / "1" / "saved_model.pb"
    before = pb.stat().st_mtime_ns
    with pytest.raises(KbertInputError, match="exists; pass --overwrite"):
        serving.export_serving(md, base, version=1)

    def broken_write(export_dir, requests):  # a crash half-way through writing a version
        open(os.path.join(export_dir, "partial"), "w").close()
        raise OSError("disk full")

    monkeypatch.setattr(warmup, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        serving.export_serving(md, base, version=1, overwrite=True)
    assert sorted(os.listdir(base)) == ["1", "not-a-version"], "failed export left no trace"
    assert pb.stat().st_mtime_ns == before and not (base / "1" / "partial").exists()
    monkeypatch.undo()

    path = serving.export_serving(md, base, overwrite=True)  # next version: 2
    assert path == str(base / "2") and serving.versions(str(base)) == [1, 2]
    path = serving.export_serving(md, base, version=1, overwrite=True, warmup=False)
    assert pb.stat().st_mtime_ns != before and not (base / "1" / "assets.extra").exists()
    assert sorted(os.listdir(base)) == ["1", "2", "not-a-version"]


def test_bad_arguments_are_input_errors(exports, tmp_path):
    md = exports["classify"]["md"]
    with pytest.raises(KbertInputError, match="positive integer"):
        serving.export_serving(md, tmp_path / "a", version=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(KbertInputError, match="not a directory"):
        serving.export_serving(md, tmp_path / "file")
    mlm = kbert.model_dir.ModelDir(md.model, md.tokenizer, {**md.meta, "task": "mlm"}, md.path)
    with pytest.raises(KbertInputError, match="cannot be exported"):
        serving.export_serving(mlm, tmp_path / "b")
    nolabels = kbert.model_dir.ModelDir(md.model, md.tokenizer, {**md.meta, "labels": None}, md.path)
    with pytest.raises(KbertInputError, match="no 'labels'"):
        serving.export_serving(nolabels, tmp_path / "c")
    with pytest.raises(KbertInputError, match="kbert.json is missing"):
        serving.export_serving(tmp_path, tmp_path / "d")


def test_cli_exports_next_version(exports, tmp_path, capsys):
    from kbert.cli import main

    base = tmp_path / "base"
    shutil.copytree(exports["embed"]["path"], base / "4")
    assert main(["export", "serving", "--model", exports["embed"]["md"].path, "--out", str(base), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["version"] == 5 and os.path.isfile(base / "5" / "saved_model.pb")
    assert main(["export", "serving", "--model", exports["embed"]["md"].path, "--out", str(base),
                 "--version", "5"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "serving", "--model", str(tmp_path / "missing"), "--out", str(base)]) == 2


# ----- outputs against the Keras models ----------------------------------------------------------------


def test_classify_matches_keras(exports):
    e = exports["classify"]
    _, ref = keras_outputs(e["md"], TEXTS)
    out = call(e["loaded"], text=TEXTS)
    np.testing.assert_allclose(out["logits"], ref["logits"], atol=1e-5)
    np.testing.assert_allclose(out["probabilities"], softmax(ref["logits"]), atol=1e-5)
    np.testing.assert_array_equal(out["label_ids"], ref["logits"].argmax(-1))
    assert [s.decode() for s in out["labels"]] == [e["md"].labels[i] for i in ref["logits"].argmax(-1)]


def test_pair_multi_label_matches_keras(exports):
    e = exports["pair"]
    a, b = TEXTS[:4], list(reversed(TEXTS[:4]))
    _, ref = keras_outputs(e["md"], a, b)
    out = call(e["loaded"], text=a, text_b=b)
    probs = 1 / (1 + np.exp(-ref["logits"]))
    np.testing.assert_allclose(out["probabilities"], probs, atol=1e-5)
    np.testing.assert_array_equal(out["active"], probs >= 0.5)


def test_embed_distilbert_matches_keras(exports):
    e = exports["embed"]
    _, ref = keras_outputs(e["md"], TEXTS)
    out = call(e["loaded"], text=TEXTS)
    np.testing.assert_allclose(out["embeddings"], ref["embeddings"], atol=1e-5)


def test_ner_labels_and_character_offsets(exports):
    e = exports["ner"]
    texts = ["Héllo wörld, playing in Paris!", "東京 is in France", ""]
    inputs, ref = keras_outputs(e["md"], texts)
    out = call(e["loaded"], text=texts)
    mask = np.asarray(inputs["padding_mask"]) > 0
    vocab = np.array(VOCAB)
    assert (np.vectorize(bytes.decode)(out["tokens"]) == vocab[np.asarray(inputs["token_ids"])]).all()
    np.testing.assert_allclose(out["probabilities"], softmax(ref["logits"]), atol=1e-5)
    ids = np.where(mask, ref["logits"].argmax(-1), -1)
    np.testing.assert_array_equal(out["token_label_ids"], ids)
    labels = np.where(mask, np.array(e["md"].labels)[ref["logits"].argmax(-1)], "")
    assert (np.vectorize(bytes.decode)(out["token_labels"]) == labels).all()
    words = [[t[s:en] for s, en, w in zip(out["start"][i], out["end"][i], out["is_word_start"][i]) if w]
             for i, t in enumerate(texts)]
    assert words == [["Héllo", "wörld", ",", "playing", "in", "Paris", "!"], ["東", "京", "is", "in", "France"], []]
    # [CLS], [SEP] and padding have no offsets; pieces of one word share the word's offsets.
    assert out["start"][0, 0] == -1 and out["end"][2].tolist() == [-1] * SEQ
    play = [j for j, t in enumerate(out["tokens"][0]) if t in (b"play", b"##ing")]
    assert len(play) == 2 and len({(out["start"][0, j], out["end"][0, j]) for j in play}) == 1


def test_qa_best_span_and_answer_text(exports):
    e = exports["qa"]
    inputs, ref = keras_outputs(e["md"], QUESTIONS, CONTEXTS)
    out = call(e["loaded"], question=QUESTIONS, context=CONTEXTS)
    seg, ids = np.asarray(inputs["segment_ids"]), np.asarray(inputs["token_ids"])
    for i, context in enumerate(CONTEXTS):
        ctx = (seg[i] == 1) & (ids[i] != 3) & (ids[i] != 0)  # context pieces: not [SEP], not padding
        if not ctx.any():
            assert out["start_token"][i] == -1 and out["answer"][i] == b"" and out["score"][i] == 0
            continue
        ls = ref["start_logits"][i][ctx] - np.logaddexp.reduce(ref["start_logits"][i][ctx])
        le = ref["end_logits"][i][ctx] - np.logaddexp.reduce(ref["end_logits"][i][ctx])
        pos = np.flatnonzero(ctx)
        best = max(((ls[a] + le[b], pos[a], pos[b]) for a in range(len(pos)) for b in range(a, len(pos))
                    if pos[b] - pos[a] < serving.MAX_ANSWER_TOKENS))
        assert (out["start_token"][i], out["end_token"][i]) == (best[1], best[2])
        np.testing.assert_allclose(out["score"][i], np.exp(best[0]), rtol=1e-4)
        null = ref["start_logits"][i][0] + ref["end_logits"][i][0]
        span = ref["start_logits"][i][best[1]] + ref["end_logits"][i][best[2]]
        np.testing.assert_allclose(out["null_score_diff"][i], null - span, atol=1e-4)
        answer = out["answer"][i].decode()
        assert answer and answer == context[out["start"][i]:out["end"][i]]


def test_from_token_ids_matches_raw_text(exports):
    for name, e in exports.items():
        texts = (QUESTIONS, CONTEXTS) if name == "qa" else (TEXTS[:4], TEXTS[1:5]) if name == "pair" else (TEXTS,)
        inputs, _ = keras_outputs(e["md"], *texts)
        by_ids = call(e["loaded"], "from_token_ids", **{k: np.asarray(v) for k, v in inputs.items()})
        names = {"qa": ("question", "context"), "pair": ("text", "text_b")}.get(name, ("text",))
        raw = call(e["loaded"], **dict(zip(names, texts)))
        for key, value in by_ids.items():
            np.testing.assert_allclose(value, raw[key], atol=1e-6) if value.dtype.kind == "f" else \
                np.testing.assert_array_equal(value, raw[key])


# ----- odd input through the signature -----------------------------------------------------------------


def test_odd_input_is_defined_behaviour(exports):
    e = exports["classify"]
    loaded, md = e["loaded"], e["md"]
    huge = ("the film was great " * 60000)[:1_000_000]
    odd = [b"", b"bad \xff\xfe film \xc3", huge.encode()]
    out = call(loaded, text=odd)
    # Non-UTF-8 bytes are read as U+FFFD (Python's decode "replace"); a 1 MB string is truncated.
    _, ref = keras_outputs(md, [t.decode("utf-8", "replace") for t in odd])
    np.testing.assert_allclose(out["probabilities"], softmax(ref["logits"]), atol=1e-5)
    _, short = keras_outputs(md, ["the film was great " * 10])
    np.testing.assert_allclose(out["logits"][2], short["logits"][0], atol=1e-5)
    empty = call(loaded, text=np.array([], dtype=object))
    assert empty["probabilities"].shape == (0, 3) and empty["labels"].shape == (0,)
    batch = [f"{'great' if i % 2 else 'bad'} film number {i}" for i in range(512)]
    out = call(loaded, text=batch)
    _, ref = keras_outputs(md, batch)
    assert out["probabilities"].shape == (512, 3)
    np.testing.assert_allclose(out["probabilities"], softmax(ref["logits"]), atol=1e-5)
    # Offsets and answers stay defined for odd text too.
    ner = call(exports["ner"]["loaded"], text=odd)
    assert ner["start"].shape == (3, SEQ) and (ner["start"][0] == -1).all()
    bad = odd[1].decode("utf-8", "replace")
    inputs, _ = keras_outputs(exports["ner"]["md"], [bad])
    assert (np.vectorize(bytes.decode)(ner["tokens"][1]) == np.array(VOCAB)[np.asarray(inputs["token_ids"])[0]]).all()
    # This tiny vocabulary has no piece for U+FFFD, so those words give no tokens (as in Keras).
    assert [bad[s:t] for s, t, w in zip(ner["start"][1], ner["end"][1], ner["is_word_start"][1]) if w] == \
        ["bad", "film"]
    qa = call(exports["qa"]["loaded"], question=[b"", b"\xff", huge], context=[b"", b"\xff", huge])
    assert qa["answer"].shape == (3,) and qa["start_token"][0] == -1
    zero = call(exports["qa"]["loaded"], question=np.array([], object), context=np.array([], object))
    assert zero["answer"].shape == (0,) and zero["score"].shape == (0,)
    zero = call(exports["ner"]["loaded"], text=np.array([], object))
    assert zero["start"].shape == (0, SEQ) and zero["token_labels"].shape == (0, SEQ)


# ----- warmup, fresh process, saved_model_cli --------------------------------------------------------------


def test_warmup_requests_parse_and_replay(exports):
    from tensorflow_serving.apis import predict_pb2

    for name, e in exports.items():
        requests = warmup.read(e["path"])
        assert len(requests) == 2 and all(isinstance(r, predict_pb2.PredictRequest) for r in requests)
        assert {r.model_spec.name for r in requests} == {name}
        results = warmup.replay(e["loaded"], requests)
        first = next(iter(results[1].values()))
        assert first.shape[0] == len(tf.make_ndarray(next(iter(requests[1].inputs.values()))))
        assert all(np.isfinite(v).all() for r in results for v in r.values() if v.dtype.kind == "f")


FRESH = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers tf-text's ops, as TF Serving's tf-text build does
args = json.load(open(sys.argv[1]))
outs = {}
for i, job in enumerate(args["jobs"]):
    fn = tf.saved_model.load(job["path"]).signatures["serving_default"]
    inputs = {k: tf.constant([bytes.fromhex(x) for x in v], tf.string) for k, v in job["inputs"].items()}
    for k, v in fn(**inputs).items():
        outs[f"{i}/{k}"] = v.numpy()
assert not [m for m in sys.modules if m.split(".")[0] in ("kbert", "keras_hub")], "kbert was imported"
np.savez(args["out"], **outs)
"""


def run_fresh(tmp_path, jobs):
    """Run each export's serving_default in a new Python with only tensorflow + tensorflow_text."""
    script, spec, out = tmp_path / "fresh.py", tmp_path / "jobs.json", tmp_path / "out.npz"
    script.write_text(FRESH)
    enc = lambda v: [(x if isinstance(x, bytes) else x.encode()).hex() for x in v]  # noqa: E731
    spec.write_text(json.dumps({"out": str(out), "jobs": [{"path": p, "inputs": {k: enc(v) for k, v in i.items()}}
                                                          for p, i in jobs]}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = np.load(out, allow_pickle=True)
    return [{k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{i}/")} for i in range(len(jobs))]


def test_fresh_process_without_kbert_matches_keras(exports, tmp_path):
    jobs = [(exports["classify"]["path"], {"text": TEXTS}),
            (exports["ner"]["path"], {"text": TEXTS}),
            (exports["qa"]["path"], {"question": QUESTIONS, "context": CONTEXTS})]
    clf, ner, qa = run_fresh(tmp_path, jobs)
    np.testing.assert_allclose(clf["logits"], keras_outputs(exports["classify"]["md"], TEXTS)[1]["logits"], atol=1e-5)
    assert clf["labels"].tolist() == call(exports["classify"]["loaded"], text=TEXTS)["labels"].tolist()
    np.testing.assert_allclose(ner["logits"], keras_outputs(exports["ner"]["md"], TEXTS)[1]["logits"], atol=1e-5)
    assert ner["start"].tolist() == call(exports["ner"]["loaded"], text=TEXTS)["start"].tolist()
    in_process = call(exports["qa"]["loaded"], question=QUESTIONS, context=CONTEXTS)
    assert qa["answer"].tolist() == in_process["answer"].tolist()


SAVED_MODEL_CLI = ("import sys, tensorflow_text; from tensorflow.python.tools import saved_model_cli; "
                   "sys.argv = ['saved_model_cli'] + sys.argv[1:]; saved_model_cli.main()")


def test_saved_model_cli_show_and_run(exports):
    path = exports["classify"]["path"]
    show = subprocess.run([sys.executable, "-c", SAVED_MODEL_CLI, "show", "--all", "--dir", path],
                          capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    assert "signature_def['serving_default']" in show.stdout and "inputs['text']" in show.stdout
    assert "outputs['labels']" in show.stdout and "signature_def['from_token_ids']" in show.stdout
    run = subprocess.run([sys.executable, "-c", SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve",
                          "--signature_def", "serving_default", "--input_exprs", 'text=["The film was great!", ""]'],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    _, ref = keras_outputs(exports["classify"]["md"], ["The film was great!", ""])
    labels = [exports["classify"]["md"].labels[i] for i in ref["logits"].argmax(-1)]
    assert "Result for output key labels:" in run.stdout
    assert f"[b'{labels[0]}' b'{labels[1]}']" in run.stdout


@pytest.mark.slow
def test_real_minilm_classifier_answers_raw_text_without_kbert(tmp_path):
    """The real all-MiniLM-L6-v2 encoder with a classification head, exported and loaded without kbert."""
    from kbert.checkpoints.hf import load_hf

    ckpt = load_hf(kbert.assets.minilm_dir())
    keras.utils.set_random_seed(0)
    model = build_classifier(ckpt.backbone, 3, pooling="mean")
    md_path = save_model_dir(tmp_path / "md", model, ckpt.tokenizer, "classify", 64,
                             labels=["negative", "neutral", "positive"], pair=False, multi_label=False)
    path = serving.export_serving(md_path, tmp_path / "serving" / "minilm")
    texts = ["A gripping, beautifully shot film.", "Dull, slow and far too long.", "", "Café crème — déjà vu!",
             "The plot was okay " * 40]
    (out,) = run_fresh(tmp_path, [(path, {"text": texts})])
    _, ref = keras_outputs(load_model_dir(md_path), texts)
    np.testing.assert_allclose(out["probabilities"], softmax(ref["logits"]), atol=1e-5)
    assert out["labels"].tolist() == [["negative", "neutral", "positive"][i].encode() for i in ref["logits"].argmax(-1)]


def test_albert_sentencepiece_classifier(tmp_path):
    """ALBERT (SentencePiece, tokenized in the graph by tf-text's SentencePiece ops) answers like Keras;
    NER/QA offsets come from SentencePiece's own offsets."""
    import io

    import sentencepiece as spm

    lines = ["the film was great", "the film was bad", "paris is in france", "a dull plot"] * 20
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, vocab_size=40,
                                   pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="<pad>", unk_piece="<unk>",
                                   user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], hard_vocab_limit=False,
                                   minloglevel=2)
    tok = kbert.tokenizers.sentencepiece(buf.getvalue())
    keras.utils.set_random_seed(0)
    enc = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), max_sequence_length=64)
    md_path = save_model_dir(tmp_path / "md", build_classifier(enc, 2), tok, "classify", SEQ, labels=["a", "b"],
                             pair=False, multi_label=False)
    md = load_model_dir(md_path)
    path = serving.export_serving(md, tmp_path / "albert")
    texts = ["the film was great", "", "x" * 3000, b"bad \xff".decode("utf-8", "replace")]
    out = call(tf.saved_model.load(path), text=texts)
    np.testing.assert_allclose(out["logits"], keras_outputs(md, texts)[1]["logits"], atol=1e-5)
    from kbert.tasks.question_answerer import build_question_answerer
    from kbert.tasks.token_classifier import build_token_classifier

    enc = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), max_sequence_length=64)
    ner = serving.export_serving(save_model_dir(tmp_path / "ner", build_token_classifier(enc, 3), tok, "ner", SEQ,
                                                labels=["O", "B", "I"]), tmp_path / "ner_serving")
    texts = ["Paris is in  France", "", "the filmx was great"]
    out = call(tf.saved_model.load(ner), text=texts)
    for i, text in enumerate(texts):
        real = out["start"][i] >= 0
        pieces = [t.decode().replace("\u2581", "") for t in out["tokens"][i][real]]
        spans = [text[a:b] for a, b in zip(out["start"][i][real], out["end"][i][real])]
        assert [s for s, p in zip(spans, pieces) if p != "<unk>"] == [p for p in pieces if p != "<unk>"]
        assert "".join(spans) == "".join(text.split())[:len("".join(spans))]  # pieces tile the text
    enc = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), max_sequence_length=64)
    qa = serving.export_serving(save_model_dir(tmp_path / "qa", build_question_answerer(enc), tok, "qa", 24),
                                tmp_path / "qa_serving")
    contexts = ["Paris is in  France, the film.", "a dull plot", ""]
    out = call(tf.saved_model.load(qa), question=["where is paris", "x", "y"], context=contexts)
    for i, context in enumerate(contexts):
        assert out["answer"][i].decode() == (context[out["start"][i]:out["end"][i]] if out["start"][i] >= 0 else "")
    assert out["answer"][0] and out["start_token"][2] == -1
