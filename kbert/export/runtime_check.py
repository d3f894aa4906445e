"""The gate through the phone runtime's own tokenizer: the exported file, given raw strings, must
label them as the Keras model does.

    >>> from kbert.export import runtime_check
    >>> runtime_check.mediapipe_classifier(content, texts, keras_probs, lite_probs, labels)  # doctest: +SKIP
    {'runtime': 'mediapipe 1.2.3', 'examples': 1000, 'same_label_as_keras': 0.998, ...}

The accuracy gate feeds the `.tflite` token ids from kbert's tokenizer; on a phone, MediaPipe's
`TextClassifier` (and the Task Library's `BertNLClassifier`) tokenize with their own C++
WordPiece / SentencePiece from the packed metadata. These checks run that path on the real
held-out strings:

* `mediapipe_classifier`: MediaPipe TextClassifier on raw strings. Its labels must equal those of
  the same file fed kbert's token ids on every example outside the Keras near ties, allowing at
  most `max_mismatch` (1%) for mojibake the two tokenizers split differently (measured on tweets:
  a score moves by ~2e-3); agreement with the Keras model on raw strings is reported beside it.
* `tasklib_classifier`: the same through the Task Library 0.4.4 in `.venv-tasklib` (a subprocess:
  it needs protobuf 3.20.3 and no TensorFlow).
* `sentencepiece_normalisation`: MediaPipe runs the `spiece.model` normaliser only; if kbert's
  tokenizer gives other ids than that model alone (e.g. lower-casing outside it), the export is
  refused with a clear message instead of shipping a phone model that sees other tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np

from kbert.errors import KbertInputError

MAX_MISMATCH = 0.01
PROBES = ["Hello World", "THE Cat sat.", "Café naïve résumé", "It's 5 o'clock!", "don't STOP"]


def _summary(runtime: str, got_labels, keras_probs, lite_probs, tie_margin: float, max_mismatch: float) -> dict:
    from kbert.export.accuracy_gate import near_ties

    got = np.asarray(got_labels)
    keras_labels, lite_labels = np.asarray(keras_probs).argmax(-1), np.asarray(lite_probs).argmax(-1)
    ties = near_ties(keras_probs, tie_margin)
    mismatch = (got != lite_labels) & ~ties
    return {"runtime": runtime, "examples": int(len(got)),
            "same_label_as_keras": float((got == keras_labels).mean()),
            "same_label_as_kbert_tokens": float((got == lite_labels).mean()),
            "tokenizer_mismatches_excluding_ties": int(mismatch.sum()),
            "max_mismatch": max_mismatch,
            "passed": bool(mismatch.mean() <= max_mismatch)}


def mediapipe_classifier(content: bytes, texts, keras_probs, lite_probs, labels, tie_margin: float = 1e-3,
                         max_mismatch: float = MAX_MISMATCH) -> dict:
    """MediaPipe TextClassifier on raw `texts` against the Keras / LiteRT labels (see module doc)."""
    import mediapipe
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core.base_options import BaseOptions

    index = {name: i for i, name in enumerate(labels)}
    opts = text.TextClassifierOptions(base_options=BaseOptions(model_asset_buffer=bytes(content)),
                                      max_results=len(labels))
    got = []
    with text.TextClassifier.create_from_options(opts) as clf:
        for t in texts:
            cats = clf.classify(t).classifications[0].categories
            got.append(index[max(cats, key=lambda c: c.score).category_name])
    return _summary(f"mediapipe {mediapipe.__version__}", got, keras_probs, lite_probs, tie_margin, max_mismatch)


def tasklib_python() -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, ".venv-tasklib", "bin", "python")


def tasklib_classifier(content: bytes, texts, keras_probs, lite_probs, labels, tie_margin: float = 1e-3,
                       max_mismatch: float = MAX_MISMATCH, timeout: float = 600) -> dict:
    """The Task Library's BertNLClassifier (tflite-support 0.4.4, `.venv-tasklib`) on raw `texts`."""
    python = tasklib_python()
    runner = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "scripts", "tasklib_runner.py")
    if not os.path.exists(python) or not os.path.exists(runner):
        return {"runtime": "tasklib 0.4.4", "passed": None,
                "note": f"not verified: {python} is missing (scripts/make_tasklib_venv.sh builds it)"}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.tflite")
        with open(path, "wb") as f:
            f.write(content)
        proc = subprocess.run([python, runner, "classify", path], input=json.dumps(list(texts)),
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {"runtime": "tasklib 0.4.4", "passed": False, "note": f"the Task Library cannot run the file: {last}"}
    index = {name: i for i, name in enumerate(labels)}
    got = [index[max(cats, key=lambda c: c["score"])["label"]] for cats in json.loads(proc.stdout)]
    return _summary("tasklib 0.4.4", got, keras_probs, lite_probs, tie_margin, max_mismatch)


def sentencepiece_normalisation(tokenizer, texts=()) -> dict | None:
    """For a SentencePiece tokenizer: refuse (KbertInputError) when the packed `spiece.model` alone
    tokenizes differently from kbert's tokenizer; None for other tokenizers."""
    proto = getattr(tokenizer, "proto", None)
    if not isinstance(proto, (bytes, bytearray)):
        return None
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=bytes(proto))
    checked = 0
    for t in [*PROBES, *list(texts)[:200]]:
        ours = [int(i) for i in np.asarray(tokenizer(t)).reshape(-1)]
        theirs = sp.encode(t)
        checked += 1
        if ours != theirs:
            raise KbertInputError(
                f"the phone runtime would tokenize differently from training: spiece.model's own normaliser gives "
                f"{theirs[:8]} for {t!r} but kbert's tokenizer gives {ours[:8]} (e.g. lower-casing outside the "
                "model); MediaPipe runs only the spiece.model normaliser, so this model cannot be shipped "
                "with its metadata tokenizer")
    return {"runtime": "sentencepiece normaliser", "examples": checked, "passed": True}
