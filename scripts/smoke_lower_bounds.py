"""Smoke steps run by scripts/smoke_lower_bounds.sh in a venv holding the lowest supported versions.

Each step prints `smoke: STEP ... ok (N s)` or `smoke: STEP ... FAILED: <one line>`; the script exits 1 if
any step failed. No big assets: tiny random models, the bundled corpus, a SentencePiece model trained
here. Runs outside the checkout (the installed kbert, not the source tree).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "great", "bad", "awful", "movie", "the", "is",
         "it", "was", "a", "fine", "day", "."]
TEXTS = ["the movie is good", "the movie is bad", "great", "awful", "good movie", "bad movie", "a fine day",
         "it was awful ."]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"]
SEQ = 8
WORK = tempfile.mkdtemp(prefix="kbert-smoke-lower-")
RESULTS: list[tuple[str, bool, str]] = []
STATE: dict = {}


def step(name):
    def wrap(fn):
        t = time.perf_counter()
        try:
            note = fn() or ""
            RESULTS.append((name, True, note))
            print(f"smoke: {name} ... ok ({time.perf_counter() - t:.0f} s){' ' + note if note else ''}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the run goes on
            traceback.print_exc(limit=-3)
            line = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            RESULTS.append((name, False, line))
            print(f"smoke: {name} ... FAILED: {line}", flush=True)
        return fn
    return wrap


@step("import kbert (installed copy, not the checkout)")
def _import():
    import kbert

    where = os.path.dirname(kbert.__file__)
    if os.environ.get("KBERT_SMOKE_INSTALLED") == "1":  # set by smoke_lower_bounds.sh
        assert "site-packages" in where, f"kbert imported from {where}, not from the venv"
    return f"kbert {kbert.__version__} from {where}"


@step("kbert._compat version checks")
def _compat():
    from kbert import _compat

    for package in _compat.TESTED:
        _compat.check(package, "smoke")
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in _compat.TESTED)


def _fit_save_load(name, clf):
    import keras
    import numpy as np

    clf.fit(TEXTS, LABELS, batch_size=4, epochs=1, verbose=0)  # 2 steps on raw strings
    before = clf.predict(TEXTS, verbose=0)
    path = os.path.join(WORK, f"{name}.keras")
    clf.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    after = again.predict(TEXTS, verbose=0)
    key = "logits" if isinstance(before, dict) else None
    b, a = (before[key], after[key]) if key else (before, after)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert type(again) is type(clf) and again.predict(["good"], decode=True, verbose=0)[0] in ("pos", "neg")
    STATE[name] = (again, path)
    return "predictions equal after keras.saving.load_model (atol 1e-5)"


@step("tiny BERT TextClassifier: fit 2 steps on raw strings, save, keras.saving.load_model")
def _bert():
    import keras

    import kbert
    from kbert.preprocessing import preprocessor_for

    keras.utils.set_random_seed(0)
    pre = preprocessor_for(kbert.tokenizers.wordpiece(VOCAB), "bert", SEQ)
    clf = kbert.TextClassifier(kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB)),
                               labels=["neg", "pos"], preprocessor=pre)
    return _fit_save_load("bert", clf)


@step("tiny ALBERT TextClassifier (SentencePiece trained here): fit 2 steps, save, load")
def _albert():
    import itertools

    import keras

    import kbert
    from kbert import tokenizer_training
    from kbert.data import corpus
    from kbert.preprocessing import preprocessor_for

    keras.utils.set_random_seed(0)
    docs = os.path.join(WORK, "corpus")
    os.makedirs(docs)
    with open(os.path.join(docs, "austen.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(itertools.islice(corpus.bundled_documents(), 3)))
    tok = tokenizer_training.train_sentencepiece(docs, vocab_size=300)
    pre = preprocessor_for(tok, "albert", SEQ)
    backbone = kbert.models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), num_layers=1)
    clf = kbert.TextClassifier(backbone, labels=["neg", "pos"], preprocessor=pre)
    return _fit_save_load("albert", clf)


@step("TFLite dynamic-int8 export, run with ai_edge_litert")
def _tflite():
    import numpy as np

    from kbert.export import accuracy_gate, litert, tflite

    model, path = STATE["bert"]
    out = os.path.join(WORK, "clf.tflite")
    res = tflite.export(path, out, mode="dynamic-int8", runtime="litert", heldout=TEXTS,
                        heldout_labels=[["neg", "pos"].index(x) for x in LABELS],
                        metadata=False, force=True, latency_runs=0)
    assert os.path.isfile(out) and len(res.content) > 0
    interp = litert.interpreter_from_file(out)
    assert type(interp).__module__.startswith("ai_edge_litert"), type(interp).__module__
    runner = interp.get_signature_runner()
    feed = accuracy_gate.default_inputs(model.preprocessor.tokenizer, "classify", SEQ, texts=["good movie"])[0]
    probs = runner(**feed)["probability"]
    assert probs.shape == (1, 2) and np.isclose(probs.sum(), 1, atol=1e-3), probs
    return (f"{len(res.content)} bytes, gate {'passed' if res.passed else 'failed (forced; random model)'}, "
            f"ai_edge_litert {litert.litert_version()}, inputs {sorted(feed)}")


@step("serving SavedModel on raw strings")
def _serving():
    import numpy as np
    import tensorflow as tf

    from kbert.export import serving

    model, path = STATE["bert"]
    target = serving.export_serving(path, os.path.join(WORK, "serving"))
    loaded = tf.saved_model.load(target)
    out = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
    want = tf.nn.softmax(model.predict(TEXTS, verbose=0)["logits"], axis=-1).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), want, atol=1e-5)
    assert {x.decode() for x in out["labels"].numpy()} <= {"neg", "pos"}
    return f"{len(TEXTS)} raw strings, probabilities equal Keras' (atol 1e-5)"


shutil.rmtree(WORK, ignore_errors=True)
failed = [r for r in RESULTS if not r[1]]
print(f"smoke: {len(RESULTS) - len(failed)}/{len(RESULTS)} steps passed", flush=True)
for name, _, line in failed:
    print(f"smoke: FAILED {name}: {line}")
sys.exit(1 if failed else 0)
