"""Pretrain a BERT (MLM + NSP) or ALBERT (MLM + SOP) encoder from raw text: `pretrain(config, workdir)`.

    >>> from kbert.recipes.pretrain import PretrainConfig, pretrain
    >>> PretrainConfig(model="bert_tiny", steps=300).objective is None          # nsp for BERT, sop for ALBERT
    True
    >>> summary = pretrain(PretrainConfig(model="albert_tiny", steps=300), "runs/albert")   # doctest: +SKIP

Trains a tokenizer on the corpus first unless `tokenizer` names one (or WORKDIR/tokenizer exists),
then runs `model.fit` with a CSV history, TensorBoard logs (WORKDIR/logs), a loss/accuracy plot
(WORKDIR/pretrain_curves.png) and checkpoints every `checkpoint_every` steps (WORKDIR/checkpoints;
rerunning resumes from the newest one), and saves the final model with
`kbert.model_dir.save_model_dir(WORKDIR/model, ..., task="pretrain")`. The optimizer is kbert's
AdamW (`kbert.training.optim.adamw`): linear warm-up, cosine decay to 0.1 of the peak.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from kbert.errors import KbertInputError
from kbert.recipes.config import RecipeConfig


@dataclass
class PretrainConfig(RecipeConfig):
    model: str = "albert_tiny"       # a kbert preset (BERT or ALBERT family)
    overrides: dict = field(default_factory=dict)  # preset config overrides, e.g. {"num_layers": 2}
    corpus: str = "bundled"          # "bundled", a file, a folder, or "tfds:NAME[:SPLIT]"
    tokenizer: str | None = None     # tokenizer folder; None: train one on the corpus into WORKDIR/tokenizer
    vocab_size: int = 8000           # for the trained tokenizer
    objective: str | None = None     # "nsp" / "sop"; None: nsp for BERT, sop for ALBERT
    seq_len: int = 128
    batch_size: int = 32
    max_predictions: int | None = None  # default round(0.15 * seq_len) + 1
    steps: int = 1000
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    checkpoint_every: int = 100      # also the progress-bar / log "epoch" length
    shuffle_buffer: int = 2048
    seed: int = 0
    mixed_precision: bool = False
    jit_compile: bool = False

    def checked(self) -> PretrainConfig:
        if int(self.steps) < 1 or int(self.checkpoint_every) < 1:
            raise KbertInputError("steps and checkpoint_every must be >= 1")
        return self


def as_config(config) -> PretrainConfig:
    return config.checked() if isinstance(config, PretrainConfig) else PretrainConfig.from_dict(dict(config))


def build(config: PretrainConfig, out):
    """Tokenizer, pretrainer (compiled) and the training dataset for `config`."""
    import keras

    from kbert import models, tokenizer_training, tokenizers
    from kbert.data.pretraining import pretraining_dataset
    from kbert.errors import KbertInputError
    from kbert.presets import get_preset
    from kbert.training.optim import adamw
    from kbert.training.pretrainer import pretrainer_for

    preset = get_preset(config.model)
    if preset.family == "distilbert":
        raise KbertInputError("DistilBERT has no segment ids or pooled output: distil it from a BERT instead "
                              "(kbert distill)")
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")
    keras.utils.set_random_seed(int(config.seed))
    kind = tokenizer_training.family_kind(preset.family)
    tok_dir = config.tokenizer or os.path.join(out, "tokenizer")
    if config.tokenizer or tokenizer_training.exists(tok_dir, kind):
        tokenizer = tokenizers.from_folder(tok_dir, preset.family)
    else:
        tokenizer = tokenizer_training.train(kind, config.corpus, int(config.vocab_size), tok_dir)
    seq_len = int(config.seq_len)
    overrides = dict(config.overrides or {})
    overrides.setdefault("max_sequence_length", max(seq_len, preset.config.get("max_sequence_length", 512)))
    backbone = models.backbone(preset.name, vocabulary_size=int(tokenizer.vocabulary_size()), **overrides)
    model = pretrainer_for(backbone, config.objective)
    steps, warmup = int(config.steps), min(int(config.warmup_steps), int(config.steps) // 2)
    # kbert's one AdamW recipe: linear warm-up, cosine decay to 0.1 of the peak
    optimizer = adamw(float(config.learning_rate), float(config.weight_decay), total_steps=steps,
                      warmup_steps=warmup, final_fraction=0.1)
    model.compile(optimizer=optimizer, jit_compile=bool(config.jit_compile))
    data = pretraining_dataset(config.corpus, tokenizer, seq_len=seq_len, batch_size=int(config.batch_size),
                               objective=model.pair_task, max_predictions=config.max_predictions,
                               seed=int(config.seed), shuffle_buffer=int(config.shuffle_buffer), repeat=True)
    return tokenizer, model, data


def pretrain(config, workdir, verbose: int = 1) -> dict:
    """Run (or resume) one pretraining run into `workdir`; returns a summary dict.

    `config` is a `PretrainConfig` or a dict of its fields."""
    import csv
    import time

    import keras

    from kbert.model_dir import save_model_dir
    from kbert.training import callbacks as cb
    from kbert.training.curves import plot_history

    config, out = as_config(config), os.fspath(workdir)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    tokenizer, model, data = build(config, out)
    every, steps = int(config.checkpoint_every), int(config.steps)
    ckpt = os.path.join(out, "checkpoints")
    start = cb.resume(model, ckpt)
    epochs = math.ceil(steps / every)
    history_csv = os.path.join(out, "history.csv")

    class StepLog(keras.callbacks.Callback):  # one CSV row per checkpoint interval, with the global step
        def on_epoch_end(self, epoch, logs=None):
            row = {"step": int(model.optimizer.iterations.numpy()), **{k: float(v) for k, v in (logs or {}).items()}}
            new = not os.path.exists(history_csv)
            with open(history_csv, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    w.writeheader()
                w.writerow(row)

    callbacks = cb.fault_tolerance(ckpt, every_steps=every) + [StepLog()]
    try:
        import tensorboard  # noqa: F401  (tf.summary needs it)

        callbacks.append(keras.callbacks.TensorBoard(os.path.join(out, "logs"), update_freq=max(1, every // 4)))
    except ImportError:
        print("kbert pretrain: TensorBoard logs skipped (pip install tensorboard)")
    t = time.time()
    hist = None
    if start < epochs * every:
        hist = model.fit(data.skip(start), steps_per_epoch=every, epochs=epochs, initial_epoch=start // every,
                         callbacks=callbacks, verbose=verbose)
    seconds = time.time() - t
    png = None
    if os.path.exists(history_csv):
        png = plot_history(history_csv, os.path.join(out, "pretrain_curves.png"), x_key="step")
    final = {k: float(v[-1]) for k, v in hist.history.items()} if hist else {}
    save_model_dir(os.path.join(out, "model"), model, tokenizer, task="pretrain", seq_len=int(config.seq_len),
                   preset=config.model, objective=model.pair_task, steps=int(model.optimizer.iterations.numpy()),
                   metrics=final)
    return {"ok": True, "out": out, "model_dir": os.path.join(out, "model"), "resumed_from_step": start,
            "steps": int(model.optimizer.iterations.numpy()), "seconds": round(seconds, 1), "metrics": final,
            "plot": png}
