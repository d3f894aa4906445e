"""The exported files answer correctly in the runtimes apps use: MediaPipe Tasks (this venv) and the
TFLite Task Library (.venv-tasklib, run as a subprocess: it needs protobuf 3.20.3, no TensorFlow).

Real model, real text: all-MiniLM-L6-v2 with a head trained on 400 real tweets, checked on 50 real
held-out tweets; a QA model on hand-written question/context pairs.

* float32 file: the runtime's top label equals the Keras model's on every tweet, scores within 0.02 (the runtimes
  tokenize with their own C++ WordPiece: mojibake in tweets moves a score by ~2e-3; clean text ~1e-6).
* dynamic-int8 files (per-channel dense weights for MediaPipe, `runtime="tasklib"`: per-tensor, the
  Task-Library-loadable kernels): the runtime's top label equals that of the same file in the LiteRT
  interpreter on every tweet, scores within 0.05 (the Task Library's older hybrid kernels: measured
  0.022 max); its distance to Keras is the accuracy gate's business (50 tweets give the gate no power,
  so these files are written with force=True; the point estimate of the drop is still <= 1).
"""

import json
import os
import subprocess

import numpy as np
import pytest

from bench.tflite_data import LABELS, heldout_sentences, heldout_tweets, minilm_sentiment_classifier, qa_examples, tiny_qa_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKLIB_PY = os.path.join(ROOT, ".venv-tasklib", "bin", "python")
SEQ = 64
# float32: the runtimes tokenize themselves (C++ WordPiece); dynamic-int8: the Task Library 0.4.4
# bundles an older TFLite runtime whose hybrid (dynamic-range) kernels round differently: measured up
# to 0.022 on one of 50 tweets, top labels equal on all.
TOL = {"float32": 0.02, "dynamic-int8": 0.05, "dynamic-int8-tasklib": 0.05}
RUNTIME = {"float32": "mediapipe", "dynamic-int8": "mediapipe", "dynamic-int8-tasklib": "tasklib"}

pytestmark = pytest.mark.slow


def tasklib(task, model, items):
    if not os.path.exists(TASKLIB_PY):
        proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "make_tasklib_venv.sh")], capture_output=True,
                              text=True)
        if proc.returncode != 0 or not os.path.exists(TASKLIB_PY):
            pytest.skip(f".venv-tasklib could not be built: {(proc.stderr or proc.stdout)[-300:]}")
    proc = subprocess.run([TASKLIB_PY, os.path.join(ROOT, "scripts", "tasklib_runner.py"), task, model],
                          input=json.dumps(items), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def classifier_files(tmp_path_factory):
    from kbert.export import tflite
    from kbert.export.accuracy_gate import run_keras, run_tflite

    clf, tok = minilm_sentiment_classifier(seq_len=SEQ)
    texts, y = heldout_tweets(50)
    feeds = tflite.representative_inputs(tok, texts, SEQ)
    out = tmp_path_factory.mktemp("clf")
    files, refs = {}, {}
    keras_probs = np.concatenate([r["probability"] for r in run_keras(tflite.mobile_model(clf, "classify", SEQ), feeds)])
    assert 0.1 < (keras_probs.argmax(-1) == 1).mean() < 0.9, "the trained head predicts one label for everything"
    for name, runtime in RUNTIME.items():
        mode = name.replace("-tasklib", "")
        res = tflite.export(clf, str(out / f"{name}.tflite"), mode=mode, task="classify", seq_len=SEQ, tokenizer=tok,
                            labels=LABELS, heldout=texts, heldout_labels=y, runtime=runtime, force=True)
        assert res.card["accuracy_vs_float"]["metric_drop_points"] <= 1.0
        (check,) = res.card["runtime_checks"].values()  # the export's own raw-string check in that runtime
        assert check["runtime"].startswith(runtime) and check["passed"] is not False, check
        mode = name
        files[mode] = res.path
        refs[mode] = (keras_probs if mode == "float32" else
                      np.concatenate([o["probability"] for o in run_tflite(res.content, feeds)[0]]))
    return files, texts, refs


@pytest.mark.parametrize("mode", ["float32", "dynamic-int8"])
def test_mediapipe_text_classifier(classifier_files, mode):
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    files, texts, refs = classifier_files
    ref = refs[mode]
    opts = text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=files[mode]), max_results=2)
    with text.TextClassifier.create_from_options(opts) as clf:
        for i, t in enumerate(texts):
            cats = clf.classify(t).classifications[0].categories
            scores = {c.category_name: c.score for c in cats}
            assert cats[0].category_name == LABELS[int(ref[i].argmax())], (t, scores, ref[i])
            for j, lab in enumerate(LABELS):
                assert abs(scores[lab] - ref[i, j]) < TOL[mode], (t, scores, ref[i])


@pytest.mark.parametrize("mode", ["float32", "dynamic-int8-tasklib"])
def test_tasklib_bert_nl_classifier(classifier_files, mode):
    files, texts, refs = classifier_files
    ref = refs[mode]
    results = tasklib("classify", files[mode], texts)
    for i, cats in enumerate(results):
        scores = {c["label"]: c["score"] for c in cats}
        best = max(cats, key=lambda c: c["score"])
        assert best["label"] == LABELS[int(ref[i].argmax())], (texts[i], scores, ref[i])
        for j, lab in enumerate(LABELS):
            assert abs(scores[lab] - ref[i, j]) < TOL[mode], (texts[i], scores, ref[i])


def test_mediapipe_text_embedder(tmp_path):
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    from kbert.assets import minilm_dir
    from kbert.checkpoints.hf import load_hf
    from kbert.export import tflite
    from kbert.export.accuracy_gate import run_keras
    from kbert.tasks.embedder import build_embedder

    ckpt = load_hf(minilm_dir())
    emb = build_embedder(ckpt.backbone)
    texts = heldout_sentences(12)[0]
    res = tflite.export(emb, str(tmp_path / "embed.tflite"), mode="float32", task="embed", seq_len=SEQ,
                        tokenizer=ckpt.tokenizer, heldout=texts, deployment=False)
    ref = np.concatenate([r["embeddings"] for r in run_keras(tflite.mobile_model(emb, "embed", SEQ),
                                                              tflite.representative_inputs(ckpt.tokenizer, texts, SEQ))])
    opts = text.TextEmbedderOptions(base_options=BaseOptions(model_asset_path=res.path))
    with text.TextEmbedder.create_from_options(opts) as embedder:
        for i, t in enumerate(texts):
            v = np.asarray(embedder.embed(t).embeddings[0].embedding)
            cos = float(v @ ref[i] / (np.linalg.norm(v) * np.linalg.norm(ref[i])))
            assert cos > 0.999, (t, cos)


def test_tasklib_bert_question_answerer(tmp_path):
    from kbert.assets import minilm_dir
    from kbert.export import tflite
    from kbert.export.accuracy_gate import best_span, run_keras
    from kbert.tokenizers import read_vocab, wordpiece

    vocab = read_vocab(os.path.join(minilm_dir(), "vocab.txt"))
    tok = wordpiece(vocab)
    model, _ = tiny_qa_model(tok, seq_len=384)
    qs, cs, answers = zip(*qa_examples())
    res = tflite.export(model, str(tmp_path / "qa.tflite"), mode="float32", task="qa", tokenizer=tok,
                        heldout=(list(qs), list(cs)))
    feeds = tflite.representative_inputs(tok, None, 384, pairs=(list(qs), list(cs)))
    ref = run_keras(tflite.mobile_model(model, "qa", 384), feeds)
    got = tasklib("qa", res.path, [[q, c] for q, c in zip(qs, cs)])

    def norm(s):
        return "".join(ch for ch in s.lower().replace("##", "") if ch.isalnum())

    for feed, r, g, a in zip(feeds, ref, got, answers):
        s, e = best_span(r["start_logits"][0], r["end_logits"][0], feed)
        keras_text = " ".join(vocab[i] for i in feed["ids"][0][s:e + 1]).replace(" ##", "")
        assert g is not None
        assert norm(g["text"]) == norm(keras_text), (g, keras_text, a)
