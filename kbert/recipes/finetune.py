"""Fine-tune an encoder for classification, NER or extractive QA: `finetune(config, workdir)`.

    >>> from kbert.recipes.finetune import FinetuneConfig, finetune
    >>> config = FinetuneConfig(task="classify", model="minilm", data="tweets", limit=2000, epochs=2)
    >>> result = finetune(config, "runs/tweets")                      # doctest: +SKIP
    >>> result["test"]["accuracy"]                                      # doctest: +SKIP

The whole job in one screen (`finetune` below): resolve the encoder (`kbert.tasks.sources`: a
preset, `minilm`, a Hugging Face folder or Hub name, a saved kbert model), read and split the data
(`kbert.recipes.finetune_data`), build the task model from the registry (`kbert.TextClassifier`,
`TokenClassifier`, `QuestionAnswerer`) with kbert's AdamW (`kbert.training.optim`), `model.fit`
with early stopping on the validation loss, best weights kept and crash-safe resume
(`kbert.training.callbacks.epoch_checkpoints` in WORKDIR/training), then evaluate with the task
metrics and write WORKDIR as a kbert model directory (`model.keras` holds the task model with its
preprocessor and settings) plus metrics.json, history.csv, training_curves.png and, for
classification, confusion_matrix.png.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass

from kbert.errors import KbertInputError
from kbert.recipes.config import RecipeConfig

TASKS = ("classify", "ner", "qa")


@dataclass
class FinetuneConfig(RecipeConfig):
    task: str = "classify"           # classify / ner / qa
    model: str = "minilm"            # preset, minilm, HF folder or Hub name, saved kbert model
    tokenizer: str | None = None     # tokenizer folder (ALBERT presets need one)
    data: str = "tweets"             # named set, tfds:NAME or a file (kbert.recipes.finetune_data)
    eval_data: str | None = None     # validation/test file (default: split `data`)
    text_column: str = "text"
    label_column: str = "label"
    text_b_column: str | None = None
    multi_label: bool = False
    limit: int | None = None         # at most this many training examples (seeded sample)
    eval_limit: int | None = None    # and this many validation / test examples
    seq_len: int = 128
    batch_size: int = 32
    epochs: int = 3
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1              # fraction of steps with a linear warm-up
    dropout: float = 0.1
    pooling: str = "pooled"          # classify: pooled / cls / mean
    o_weight: float = 1.0            # ner: loss weight of the "O" tag (< 1 counters all-"O" predictions)
    patience: int = 2                # early stopping on val_loss
    doc_stride: int = 128
    max_query_len: int = 64
    max_answer_len: int = 30
    null_threshold: float = 0.0
    seed: int = 0

    def checked(self) -> FinetuneConfig:
        """Raise `KbertInputError` on a bad value; returns the config with derived limits applied."""
        if self.task not in TASKS:
            raise KbertInputError(f"unknown task {self.task!r}; expected classify, ner or qa")
        for key in ("epochs", "batch_size", "seq_len"):
            if int(getattr(self, key)) < 1:
                raise KbertInputError(f"{key} must be >= 1")
        if not 0.0 <= float(self.warmup) < 1.0:
            raise KbertInputError(f"warmup must be a fraction of the steps in [0, 1), got {self.warmup}")
        from kbert.presets import PRESETS

        if self.model in PRESETS and PRESETS[self.model].family == "albert" and not self.tokenizer:
            raise KbertInputError(f"--model {self.model} is an ALBERT preset: pass --tokenizer DIR (tokenizer= in "
                                  "Python) with its spiece.model")
        # questions may take at most half of a short window (the default 64 suits seq_len >= 128)
        return dataclasses.replace(self, max_query_len=min(int(self.max_query_len), int(self.seq_len) // 2))


def as_config(config) -> FinetuneConfig:
    """A checked `FinetuneConfig` from a config or a dict of its fields."""
    return config.checked() if isinstance(config, FinetuneConfig) else FinetuneConfig.from_dict(dict(config))


def splits(config):
    """(train, validation, test) data of `config` (a FinetuneConfig or dict), as `finetune` draws them."""
    from kbert.recipes import finetune_data

    return finetune_data.splits(as_config(config))


# ---------------------------------------------------------------- model and features


def build_model(config: FinetuneConfig, labels=None):
    """The registry's task model on the encoder `config.model` points to (a new head)."""
    from kbert.tasks import registry

    settings = {"classify": dict(labels=labels, multi_label=bool(config.multi_label), pooling=config.pooling,
                                 dropout=float(config.dropout)),
                "ner": dict(labels=labels, dropout=float(config.dropout), o_weight=float(config.o_weight)),
                "qa": dict(dropout=float(config.dropout), doc_stride=int(config.doc_stride),
                           max_query_len=int(config.max_query_len), max_answer_len=int(config.max_answer_len),
                           null_threshold=float(config.null_threshold))}[config.task]
    return registry.task_class(config.task).from_preset(config.model, tokenizer=config.tokenizer,
                                                        seq_len=int(config.seq_len), **settings)


def compile_model(config: FinetuneConfig, model, steps: int):
    """kbert's AdamW with `config.warmup` of `steps` warm-up; the task's own loss and metrics."""
    from kbert.training.optim import adamw

    warm = int(float(config.warmup) * steps)
    model.compile(optimizer=adamw(float(config.learning_rate), float(config.weight_decay), total_steps=max(steps, 1),
                                  warmup_steps=warm if warm < steps else 0))
    return model


def features(config: FinetuneConfig, model, task_data, training=True):
    """(input arrays, label arrays, extra) for one split; rows with bad labels/answers are skipped."""
    from kbert.data import tasks

    tokenizer, seq_len, segments = model.tokenizer, model.seq_len, model.family != "distilbert"
    if config.task == "classify":
        extra = {"truncated": tasks.count_truncated(tokenizer, task_data.texts, seq_len, task_data.texts_b)}
        return model.tokenize(task_data.inputs()), {"logits": task_data.y}, extra
    if config.task == "ner":
        f = tasks.ner_features(tokenizer, task_data.sentences, task_data.tags, model.label_names(), seq_len, segments,
                               on_error="skip")
        return tasks.model_inputs(f), {"logits": f["labels"]}, f
    f = tasks.qa_features(tokenizer, task_data, seq_len, int(config.doc_stride), int(config.max_query_len),
                          segments, training=training, on_error="skip")
    return tasks.model_inputs(f), {"start_logits": f["start_positions"], "end_logits": f["end_positions"]}, f


# ---------------------------------------------------------------- evaluation


def evaluate(config: FinetuneConfig, model, x, y, extra, task_data) -> dict:
    """Task metrics on one split (accuracy/macro-F1, entity F1, or SQuAD EM/F1)."""
    from kbert.tasks import metrics

    out = model.predict(x, batch_size=64, verbose=0)
    if config.task == "classify":
        logits, gold = out["logits"], y["logits"]
        if config.multi_label:
            pred = (logits > 0).astype("float32")
            return {"accuracy": float((pred == gold).all(-1).mean()), "label_accuracy": float((pred == gold).mean()),
                    "n": int(len(pred))}
        pred, n = logits.argmax(-1), model.num_classes
        return {"accuracy": metrics.accuracy(gold, pred), "macro_f1": metrics.macro_f1(gold, pred, list(range(n))),
                "confusion_matrix": metrics.confusion_matrix(gold, pred, n).tolist(), "n": int(len(pred))}
    if config.task == "ner":
        from kbert.tasks.token_classifier import word_predictions

        pred = word_predictions(out["logits"], extra["word_index"], extra["num_words"], model.label_names())
        gold = [task_data.tags[r - 1] for r in extra["rows"]]
        r = metrics.entity_f1(gold, pred)
        return {k: r[k] for k in ("precision", "recall", "f1", "gold", "predicted", "correct")} | {
            "n": len(gold), "per_type_f1": {k: v["f1"] for k, v in r["per_type"].items()}}
    from kbert.tasks.question_answerer import postprocess

    exs = extra["examples"]
    v2 = any(not e["answers"]["text"] for e in exs)
    preds = postprocess(extra, out["start_logits"], out["end_logits"], [e["context"] for e in exs],
                        max_answer_len=int(config.max_answer_len), allow_no_answer=v2,
                        null_threshold=float(config.null_threshold))
    s = metrics.squad_scores([p["text"] for p in preds], [e["answers"]["text"] for e in exs])
    return s | {"n": len(exs), "windows": int(len(extra["example_index"])),
                "examples": [{"id": e.get("id"), "question": e["question"], "prediction": p["text"],
                              "gold": e["answers"]["text"]} for e, p in list(zip(exs, preds))[:20]]}


# ---------------------------------------------------------------- the job


def finetune(config, workdir, say=print, verbose=1) -> dict:
    """Run one fine-tuning job into `workdir`; returns the metrics dict (also WORKDIR/metrics.json).

    `config` is a `FinetuneConfig` or a dict of its fields. Rerunning with the same `workdir` after a
    crash resumes from the last finished epoch."""
    import keras

    from kbert.model_dir import save_model_dir
    from kbert.training.callbacks import epoch_checkpoints
    from kbert.training.curves import plot_confusion, plot_history

    config = as_config(config)
    out, t0 = os.fspath(workdir), time.time()
    keras.utils.set_random_seed(int(config.seed))
    task = config.task
    train, val, test = splits(config)
    labels = None if task == "qa" else train.label_names
    model = build_model(config, labels)
    if task == "qa":
        model.allow_no_answer = train.unanswerable() > 0
    say(f"encoder: {config.model} ({model.family}, {model.backbone.count_params():,} parameters)")
    say(f"data: {config.data}: {len(train)} train / {len(val)} validation / {len(test)} test"
        + (f", labels {labels}" if labels else ""))
    x_tr, y_tr, ex_tr = features(config, model, train)
    x_va, y_va, ex_va = features(config, model, val, training=False)
    x_te, y_te, ex_te = (x_va, y_va, ex_va) if test is val else features(config, model, test, training=False)
    batch, epochs = int(config.batch_size), int(config.epochs)
    compile_model(config, model, steps=epochs * -(-len(next(iter(x_tr.values()))) // batch))
    work = os.path.join(out, "training")
    os.makedirs(work, exist_ok=True)
    history_csv = os.path.join(work, "history.csv")
    callbacks = epoch_checkpoints(work, "val_loss", patience=int(config.patience)) + [
        keras.callbacks.CSVLogger(history_csv, append=True)]
    t1, c1 = time.time(), time.process_time()
    model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs, batch_size=batch, callbacks=callbacks,
              verbose=verbose)
    train_s, train_cpu = time.time() - t1, time.process_time() - c1
    if os.path.exists(os.path.join(work, "best.weights.h5")):
        model.load_weights(os.path.join(work, "best.weights.h5"))  # also right after a resumed run
    result = {"task": task, "model": config.model, "family": model.family, "data": config.data,
              "sizes": {"train": len(train), "validation": len(val), "test": len(test)},
              "validation": evaluate(config, model, x_va, y_va, ex_va, val),
              "test": evaluate(config, model, x_te, y_te, ex_te, test),
              "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1), "total_seconds": None,
              "config": config.to_dict()}
    if task == "classify":
        result["truncated"] = {"train": ex_tr["truncated"], "validation": ex_va["truncated"]}
        model.pair = train.texts_b is not None
    else:
        result["feature_stats"] = {"train": ex_tr["stats"], "validation": ex_va["stats"]}
    meta = {"metrics": {k: v for k, v in result["test"].items() if isinstance(v, (int, float))}}
    history = open(history_csv).read() if os.path.exists(history_csv) else ""
    save_model_dir(out, model, model.tokenizer, task=task, seq_len=int(config.seq_len), labels=labels,
                   family=model.family, **{k: v for k, v in {**model.settings(), **meta}.items() if k != "labels"})
    with open(os.path.join(out, "history.csv"), "w") as f:
        f.write(history)
    plots = [plot_history(os.path.join(out, "history.csv"), os.path.join(out, "training_curves.png"))]
    if task == "classify" and "confusion_matrix" in result["test"]:
        plots.append(plot_confusion(result["test"]["confusion_matrix"], labels,
                                    os.path.join(out, "confusion_matrix.png")))
    result["plots"] = [os.path.basename(p) for p in plots if p]
    result["total_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    return result


def summary(result) -> str:
    """One line: the test figures and the training time."""
    t = result["test"]
    if result["task"] == "classify":
        figs = f"accuracy {t['accuracy']:.4f}" + (f", macro-F1 {t['macro_f1']:.4f}" if "macro_f1" in t else "")
    elif result["task"] == "ner":
        figs = f"entity P {t['precision']:.4f} R {t['recall']:.4f} F1 {t['f1']:.4f}"
    else:
        figs = f"EM {t['exact_match']:.1f}, F1 {t['f1']:.1f}"
    return f"test ({t['n']} examples): {figs}; trained in {result['train_seconds']:.0f}s"
