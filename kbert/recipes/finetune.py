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

# The built-in fine-tunable tasks, so that a config is checked before Keras is imported (the CLI's bad
# input exits fast); a process that registered a task of its own has imported the registry already.
BUILTIN_TASKS = ("classify", "ner", "qa")


def finetune_tasks() -> list[str]:
    """The registered tasks the recipe trains (classify, ner, qa and any task registered since)."""
    import sys

    if "kbert.tasks.registry" not in sys.modules:
        return list(BUILTIN_TASKS)
    from kbert.tasks import registry

    return [n for n in registry.names() if registry.task_class(n).finetunable]


@dataclass
class FinetuneConfig(RecipeConfig):
    task: str = "classify"           # classify / ner / qa (finetune_tasks())
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
        if self.task not in finetune_tasks():
            raise KbertInputError(f"unknown task {self.task!r}; expected one of {', '.join(finetune_tasks())}")
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
# The task-specific parts (constructor settings, features, metrics, plots) are the task class's
# (`TaskModel.recipe_*` in kbert/tasks/*.py, looked up in `kbert.tasks.registry`): this file has none.


def task_class(config: FinetuneConfig):
    from kbert.tasks import registry

    return registry.task_class(config.task)


def build_model(config: FinetuneConfig, labels=None):
    """The registry's task model on the encoder `config.model` points to (a new head)."""
    cls = task_class(config)
    return cls.from_preset(config.model, tokenizer=config.tokenizer, seq_len=int(config.seq_len),
                           **cls.recipe_settings(config, labels))


def compile_model(config: FinetuneConfig, model, steps: int):
    """kbert's AdamW with `config.warmup` of `steps` warm-up; the task's own loss and metrics."""
    from kbert.training.optim import adamw

    warm = int(float(config.warmup) * steps)
    model.compile(optimizer=adamw(float(config.learning_rate), float(config.weight_decay), total_steps=max(steps, 1),
                                  warmup_steps=warm if warm < steps else 0))
    return model


# ---------------------------------------------------------------- the job


def finetune(config, workdir, say=print, verbose=1) -> dict:
    """Run one fine-tuning job into `workdir`; returns the metrics dict (also WORKDIR/metrics.json).

    `config` is a `FinetuneConfig` or a dict of its fields. Rerunning with the same `workdir` after a
    crash resumes from the last finished epoch."""
    import keras

    from kbert.model_dir import save_model_dir
    from kbert.training.callbacks import epoch_checkpoints
    from kbert.training.curves import plot_history

    config = as_config(config)
    out, t0 = os.fspath(workdir), time.time()
    keras.utils.set_random_seed(int(config.seed))
    task = config.task
    train, val, test = splits(config)
    labels = train.label_names if task_class(config).needs_labels else None
    model = build_model(config, labels)
    model.recipe_fit_data(train)
    say(f"encoder: {config.model} ({model.family}, {model.backbone.count_params():,} parameters)")
    say(f"data: {config.data}: {len(train)} train / {len(val)} validation / {len(test)} test"
        + (f", labels {labels}" if labels else ""))
    # features (rows with bad labels / answers skipped) and metrics are the task class's
    x_tr, y_tr, ex_tr = model.recipe_features(train, config)
    x_va, y_va, ex_va = model.recipe_features(val, config, training=False)
    x_te, y_te, ex_te = (x_va, y_va, ex_va) if test is val else model.recipe_features(test, config, training=False)
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
              "validation": model.recipe_metrics(x_va, y_va, ex_va, val, config),
              "test": model.recipe_metrics(x_te, y_te, ex_te, test, config),
              "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1), "total_seconds": None,
              "config": config.to_dict()}
    result.update(model.recipe_report(ex_tr, ex_va))
    meta = {"metrics": {k: v for k, v in result["test"].items() if isinstance(v, (int, float))}}
    history = open(history_csv).read() if os.path.exists(history_csv) else ""
    save_model_dir(out, model, model.tokenizer, task=task, seq_len=int(config.seq_len), labels=labels,
                   family=model.family, **{k: v for k, v in {**model.settings(), **meta}.items() if k != "labels"})
    with open(os.path.join(out, "history.csv"), "w") as f:
        f.write(history)
    plots = [plot_history(os.path.join(out, "history.csv"), os.path.join(out, "training_curves.png"))]
    plots += model.recipe_plots(result, out)
    result["plots"] = [os.path.basename(p) for p in plots if p]
    result["total_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    return result


def summary(result) -> str:
    """One line: the test figures and the training time."""
    from kbert.tasks import registry

    t = result["test"]
    return (f"test ({t['n']} examples): {registry.task_class(result['task']).summary_figures(t)}; "
            f"trained in {result['train_seconds']:.0f}s")
