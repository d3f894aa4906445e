"""Distil a teacher into a shallower student (DistilBERT's triple loss): `distill(config, workdir)`.

    >>> from kbert.recipes.distill import DistillConfig, distill
    >>> DistillConfig(teacher="minilm").student_layers
    3
    >>> report = distill(DistillConfig(teacher="runs/tweets", data="tweets", limit=2000), "runs/tweets-3l")  # doctest: +SKIP
    >>> report["retention"]                                                                   # doctest: +SKIP

`teacher` is a kbert model directory (or saved `kbert.TextClassifier`) holding a fine-tuned classifier
(task distillation on its labelled data: soft labels + hard labels + hidden-state cosine), or `minilm`:
the real all-MiniLM-L6-v2 encoder, which first gets a tied MLM head trained on the frozen encoder
(`kbert.training.mlm_teacher`), then is distilled by masked-LM distillation on a corpus.

The whole job in one screen (`distill` below): build the student (`student_layers` layers of the
teacher's width, initialised from every other teacher layer by `kbert.training.student_init`; a
`kbert.TextClassifier` with the teacher's tokenizer, labels and pooling for task distillation), train
`kbert.training.distiller.Distiller` with kbert's AdamW (`kbert.training.optim.adamw`) through
`kbert.training.resumable.fit_resumable` (step checkpoints in WORKDIR/training: a rerun after a crash or
kill resumes with the same weights as an uninterrupted run), then write WORKDIR as a kbert model
directory with distill_report.json (teacher vs student parameters, size, held-out accuracy, CPU latency
at batch 1), distill_history.csv and distill_curves.png (each loss term per epoch).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from kbert.errors import KbertInputError
from kbert.recipes.config import RecipeConfig


@dataclass
class DistillConfig(RecipeConfig):
    teacher: str | None = None
    data: str | None = None  # default: the teacher's task: tweets | bundled
    text_column: str = "text"
    label_column: str = "label"
    student_layers: int = 3
    student_family: str | None = None  # bert | distilbert (default: the teacher's)
    init: str = "teacher"  # teacher | random
    limit: int | None = None  # training examples (seeded sample)
    test_fraction: float = 0.1
    eval_limit: int = 1000  # at most this many held-out examples
    seq_len: int | None = None  # default: the teacher's seq_len (classifiers) or 64 (MLM)
    batch_size: int = 32
    epochs: int = 2
    learning_rate: float = 8e-5
    temperature: float = 2.0
    alpha: float = 5.0
    beta: float = 2.0
    gamma: float = 1.0
    ce_positions: str = "all"  # MLM: all | masked
    max_predictions: int = 10  # MLM: masked positions per example
    head_examples: int = 3000  # MLM (minilm teacher): segments used to train its MLM head
    head_epochs: int = 3
    checkpoint_every: int = 100  # optimizer steps between checkpoints (OUT/training; a rerun resumes)
    seed: int = 0

    def checked(self) -> DistillConfig:
        """Raise `KbertInputError` on a bad value; returns the config."""
        if not self.teacher:
            raise KbertInputError("--teacher is required (a kbert classifier directory or 'minilm')")
        for key in ("student_layers", "batch_size", "epochs", "checkpoint_every"):
            if int(getattr(self, key)) < 1:
                raise KbertInputError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not 0 < float(self.test_fraction) < 1:
            raise KbertInputError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        return self


def distill(config: DistillConfig, workdir, say=print, verbose: int = 2) -> dict:
    """Run the distillation `config` describes and write WORKDIR; returns the distill report (a dict)."""
    import keras
    import numpy as np

    from kbert.errors import KbertInputError
    from kbert.model_dir import MODEL_FILE, load_model_dir, save_model_dir
    from kbert.preprocessing import preprocessor_for
    from kbert.training.distiller import Distiller, find_backbone
    from kbert.training.optim import adamw
    from kbert.training.resumable import fit_resumable
    from kbert.training.student_init import init_student, student_like

    config = config.checked()
    keras.utils.set_random_seed(int(config.seed))
    rng = np.random.default_rng(int(config.seed))
    out = os.fspath(workdir)
    t_start = time.time()
    mlm = config.teacher == "minilm"

    if mlm:
        from kbert import assets
        from kbert.checkpoints.hf import load_hf
        from kbert.data import corpus
        from kbert.models.heads import mlm_head
        from kbert.training.mlm_teacher import corpus_segments, masked_examples, mlm_accuracy, train_mlm_head

        seq_len = int(config.seq_len or 64)
        ckpt = load_hf(assets.minilm_dir())
        t_enc, tokenizer, family = ckpt.backbone, ckpt.tokenizer, ckpt.family
        say(f"teacher: real all-MiniLM-L6-v2 ({t_enc.count_params():,} parameters); training its MLM head "
            f"on the frozen encoder ...")
        mlm_t = train_mlm_head(t_enc, tokenizer, seq_len=seq_len, max_predictions=int(config.max_predictions),
                               train_examples=int(config.head_examples), epochs=int(config.head_epochs),
                               seed=int(config.seed), verbose=verbose)
        say(f"  MLM head: held-out accuracy {mlm_t.report['heldout_accuracy']:.3f} "
            f"(untrained {mlm_t.report['heldout_accuracy_untrained']:.3f})")
        spec = config.data or "bundled"
        texts = list(corpus_segments(corpus.open_corpus(spec)))
        texts = [texts[i] for i in rng.permutation(len(texts))]
        n_test = min(int(config.eval_limit), max(16, int(len(texts) * float(config.test_fraction))))
        limit = int(config.limit) if config.limit else len(texts) - n_test
        if len(texts) < n_test + 16:
            raise KbertInputError(f"--data {spec}: only {len(texts)} text segments; need at least {n_test + 16}")
        test_texts, train_texts = texts[:n_test], texts[n_test:n_test + limit]
        train = masked_examples(tokenizer, family, train_texts, seq_len, int(config.max_predictions), 1)
        test = masked_examples(tokenizer, family, test_texts, seq_len, int(config.max_predictions), 2)
        s_enc = student_like(t_enc, int(config.student_layers), config.student_family)
        s_head = mlm_head(s_enc)
        teacher, student = t_enc, s_enc
        distiller = Distiller(t_enc, s_enc, teacher_head=mlm_t.head, student_head=s_head,
                              temperature=config.temperature, alpha=config.alpha, beta=config.beta,
                              gamma=config.gamma, ce_positions=config.ce_positions)
        layers = None
        if config.init == "teacher":
            layers = init_student(t_enc, s_enc)
            s_head.set_weights(mlm_t.head.get_weights())
        x_train = {k: v for k, v in train.items() if k not in ("mlm_ids", "mlm_weights")}
        y_train = {"mlm_ids": train["mlm_ids"], "mlm_weights": train["mlm_weights"]}
        x_test = {k: v for k, v in test.items() if k not in ("mlm_ids", "mlm_weights")}
        y_test = {"mlm_ids": test["mlm_ids"], "mlm_weights": test["mlm_weights"]}
        accuracy = {"teacher": lambda: mlm_accuracy(t_enc, mlm_t.head, test),
                    "student": lambda: mlm_accuracy(s_enc, s_head, test)}
        task, labels, pre_family = "encoder", None, config.student_family or family
        extra_report = {"mlm_head": mlm_t.report}
    else:
        from kbert.tasks.classifier import TextClassifier

        if not os.path.isdir(config.teacher):
            raise KbertInputError(f"--teacher {config.teacher!r} is neither 'minilm' nor a kbert model directory")
        md = load_model_dir(config.teacher)
        if md.task != "classify":
            raise KbertInputError(f"--teacher {config.teacher}: task {md.task!r}; distill supports classifier "
                                  "directories (task 'classify') and 'minilm'")
        if md.meta.get("multi_label"):
            raise KbertInputError("multi-label classifier teachers are not supported by distill yet")
        teacher, tokenizer, labels = md.model, md.tokenizer, md.labels
        t_enc = find_backbone(teacher)
        from kbert.models import family_of

        family = family_of(t_enc)
        seq_len = int(config.seq_len or md.seq_len)
        data = _classification_data(config, labels)
        order = rng.permutation(len(data))
        n_test = min(int(config.eval_limit), max(8, int(len(data) * float(config.test_fraction))))
        limit = int(config.limit) if config.limit else len(data) - n_test
        test, train = data.subset(order[:n_test]), data.subset(order[n_test:n_test + limit])
        s_enc = student_like(teacher, int(config.student_layers), config.student_family)
        pre_family = config.student_family or family
        # the student is a task model like the teacher: tokenizer, labels and pooling travel with it
        student = TextClassifier(s_enc, labels=labels, pooling=_pooling(teacher),
                                 preprocessor=preprocessor_for(tokenizer, pre_family, seq_len=seq_len))
        layers = init_student(teacher, student) if config.init == "teacher" else None
        t_pre = preprocessor_for(tokenizer, family, seq_len=seq_len)
        x_train = {k: v.numpy() for k, v in t_pre(train.inputs()).items()}
        x_test = {k: v.numpy() for k, v in t_pre(test.inputs()).items()}
        y_train, y_test = train.y, test.y
        distiller = Distiller(teacher, student, temperature=config.temperature, alpha=config.alpha,
                              beta=config.beta, gamma=config.gamma,
                              layer_map=((-1, -1),))
        pick = lambda m, x: {k: x[k] for k in m.input}  # noqa: E731
        acc = lambda m: float((m.predict(pick(m, x_test), batch_size=64, verbose=0)["logits"].argmax(-1)  # noqa
                               == y_test).mean())
        accuracy = {"teacher": lambda: acc(teacher), "student": lambda: acc(student)}
        task, extra_report = "classify", {}

    say(f"student: {config.student_layers} layers ({pre_family}), "
        f"{'initialised from teacher layers ' + str(layers) if layers else 'random init'}; "
        f"{len(x_train['token_ids'])} training / {len(x_test['token_ids'])} held-out examples, seq_len {seq_len}")
    distiller.compile(optimizer=adamw(float(config.learning_rate), weight_decay=0.01, clipnorm=None))
    t0 = time.time()
    history = fit_resumable(distiller, x_train, y_train, batch_size=int(config.batch_size),
                            epochs=int(config.epochs), directory=os.path.join(out, "training"),
                            validation_data=(x_test, y_test), every_steps=int(config.checkpoint_every),
                            seed=int(config.seed), verbose=verbose)
    train_s = time.time() - t0
    save_model_dir(out, student if not mlm else s_enc, tokenizer, task=task, seq_len=seq_len, labels=labels,
                   family=pre_family, distilled_from=str(config.teacher), student_layers=int(config.student_layers),
                   **({"pair": False, "multi_label": False} if task == "classify" else {}))
    acc_t, acc_s = accuracy["teacher"](), accuracy["student"]()
    one = {k: v[:1] for k, v in x_test.items() if k in ("token_ids", "padding_mask", "segment_ids")}
    lat = latency_ms({"teacher": teacher, "student": student if not mlm else s_enc}, one, rounds=3, repeats=5)
    files = LossCurves.write(history, out)
    teacher_file = os.path.join(config.teacher, MODEL_FILE) if not mlm else None
    report = {
        "teacher": str(config.teacher), "mode": "mlm" if mlm else "task",
        "teacher_params": int(teacher.count_params()), "student_params": int((student if not mlm else s_enc)
                                                                             .count_params()),
        "teacher_size_mb": _file_mb(teacher_file) if teacher_file else teacher.count_params() * 4 / 2 ** 20,
        "student_size_mb": _file_mb(os.path.join(out, MODEL_FILE)),
        "teacher_accuracy": acc_t, "student_accuracy": acc_s, "retention": acc_s / acc_t if acc_t else None,
        "accuracy_kind": "masked-LM top-1 on held-out segments" if mlm else "held-out classification accuracy",
        "teacher_latency_ms": lat["teacher"], "student_latency_ms": lat["student"],
        "latency_ratio": lat["student"] / lat["teacher"], "latency_input": f"batch 1, seq {seq_len}, CPU",
        "student_layers_from_teacher": layers, "train_examples": int(len(x_train["token_ids"])),
        "test_examples": int(len(x_test["token_ids"])), "train_seconds": train_s,
        "history": {k: [float(v) for v in vs] for k, vs in history.items()},
        "config": config.to_dict(), "files": files, **extra_report,
    }
    with open(os.path.join(out, "distill_report.json"), "w") as f:
        json.dump(report, f, indent=2, default=str)
    say(f"\nteacher: {report['teacher_params']:,} params, accuracy {acc_t:.3f}, {lat['teacher']:.1f} ms")
    say(f"student: {report['student_params']:,} params, accuracy {acc_s:.3f} ({report['retention'] or 0:.1%} of "
        f"the teacher), {lat['student']:.1f} ms ({report['latency_ratio']:.2f}x)")
    say(f"saved {out} ({', '.join(files)}, distill_report.json) in {time.time() - t_start:.0f}s")
    return report


def latency_ms(models: dict, inputs: dict, rounds: int = 5, repeats: int = 10) -> dict:
    """Median CPU latency of each model on the same `inputs`, rounds interleaved."""
    import statistics

    import tensorflow as tf

    fns = {k: tf.function(lambda x, m=m: m({n: x[n] for n in m.input}, training=False)) for k, m in models.items()}
    times = {k: [] for k in models}
    for _ in range(rounds):
        for k, fn in fns.items():
            tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))  # warm-up / trace
            for _ in range(repeats):
                t0 = time.perf_counter()
                tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))
                times[k].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


class LossCurves:
    """Writes distill_history.csv and distill_curves.png (one panel per loss term)."""

    @staticmethod
    def write(history: dict, out: str) -> list[str]:
        import csv

        keys = sorted(history)
        with open(os.path.join(out, "distill_history.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", *keys])
            for i in range(len(history[keys[0]])):
                w.writerow([i + 1, *(history[k][i] for k in keys)])
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return ["distill_history.csv"]
        terms = [k for k in ("loss", "ce_loss", "mlm_loss", "cos_loss", "accuracy") if k in history]
        fig, axes = plt.subplots(1, len(terms), figsize=(3.2 * len(terms), 3))
        for ax, k in zip(axes, terms):
            epochs = range(1, len(history[k]) + 1)
            ax.plot(epochs, history[k], marker="o", label="train")
            if f"val_{k}" in history:
                ax.plot(epochs, history[f"val_{k}"], marker="o", label="held-out")
            ax.set_title(k)
            ax.set_xlabel("epoch")
            ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "distill_curves.png"), dpi=80)
        plt.close(fig)
        return ["distill_history.csv", "distill_curves.png"]


def _classification_data(config: DistillConfig, labels):
    from kbert.data import datasets, sources
    from kbert.errors import KbertInputError

    spec = config.data or "tweets"
    if spec in sources.named("classify"):
        data = sources.load(spec)
    elif spec.endswith(".jsonl"):
        data = datasets.read_jsonl_classification(spec, config.text_column, config.label_column,
                                                  label_names=labels)
    elif spec.endswith((".csv", ".tsv", ".tab")):
        data = datasets.read_csv(spec, config.text_column, config.label_column, label_names=labels)
    else:
        raise KbertInputError(f"--data {spec!r}: expected tweets, pang_lee or a .csv/.tsv/.jsonl file")
    if labels is not None and list(data.label_names) != list(labels):
        raise KbertInputError(f"--data {spec} has labels {list(data.label_names)} but the teacher was trained on "
                              f"{list(labels)}")
    return data


def _pooling(model) -> str:
    if getattr(model, "pooling", None):  # a kbert.TextClassifier records its pooling
        return model.pooling
    names = {layer.name for layer in model.layers}  # a classifier saved before the task classes
    return "mean" if "mean_pooling" in names else "cls" if "cls_token" in names and "pre_classifier" not in names \
        else "pooled"


def _file_mb(path) -> float:
    return os.path.getsize(path) / 2 ** 20 if os.path.isfile(path) else float("nan")
