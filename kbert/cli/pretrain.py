"""Pretrain a BERT (MLM + NSP) or ALBERT (MLM + SOP) encoder from raw text.

Trains a tokenizer on the corpus first unless --tokenizer names one (or OUT/tokenizer exists), then runs
`model.fit` with a progress bar, TensorBoard logs (OUT/logs), a CSV history, a loss/accuracy plot
(OUT/pretrain_curves.png), checkpoints every --checkpoint-every steps (OUT/checkpoints; rerunning the
same command resumes from the newest one) and saves the final model with
`kbert.model_dir.save_model_dir(OUT/model, ..., task="pretrain")`.

examples:
  kbert pretrain --model albert_tiny --corpus bundled --steps 300 --out runs/albert_tiny
  kbert pretrain --model bert_tiny --corpus my_texts/ --steps 10000 --seq-len 128 --out runs/bert
  kbert pretrain --config kbert/configs/pretrain_bert_tiny.json --out runs/bert_tiny
"""

from __future__ import annotations

import json
import math
import os

from kbert.training.curves import plot_history

DEFAULTS = dict(
    model="albert_tiny",       # a kbert preset (BERT or ALBERT family)
    overrides={},              # preset config overrides, e.g. {"num_layers": 2}
    corpus="bundled",          # "bundled", a file, a folder, or "tfds:NAME[:SPLIT]"
    tokenizer=None,            # tokenizer folder; None: train one on the corpus into OUT/tokenizer
    vocab_size=8000,           # for the trained tokenizer
    objective=None,            # "nsp" / "sop"; None: nsp for BERT, sop for ALBERT
    seq_len=128,
    batch_size=32,
    max_predictions=None,      # default round(0.15 * seq_len) + 1
    steps=1000,
    learning_rate=1e-3,
    warmup_steps=100,
    weight_decay=0.01,
    checkpoint_every=100,      # also the progress-bar / log "epoch" length
    shuffle_buffer=2048,
    seed=0,
    mixed_precision=False,
    jit_compile=False,
)


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (keys as in kbert/configs/pretrain_*.json)")
    p.add_argument("--model", help="preset, e.g. albert_tiny, bert_tiny (default albert_tiny)")
    p.add_argument("--corpus", help="'bundled' (Jane Austen), a text file, a folder, or tfds:NAME[:SPLIT]")
    p.add_argument("--tokenizer", help="tokenizer folder (vocab.txt or spiece.model); default: train one")
    p.add_argument("--vocab-size", type=int, help="vocabulary size of the tokenizer trained (default 8000)")
    p.add_argument("--objective", choices=["nsp", "sop"], help="sentence-pair task (default by family)")
    p.add_argument("--steps", type=int, help="optimizer steps (default 1000)")
    p.add_argument("--seq-len", type=int, help="packed sequence length (default 128)")
    p.add_argument("--batch-size", type=int, help="batch size (default 32)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (default 1e-3)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 100)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--mixed-precision", action="store_true", default=None, help="mixed_float16")
    p.add_argument("--jit-compile", action="store_true", default=None, help="XLA-compile the train step")
    p.add_argument("--out", required=True, help="output folder")


def load_config(args) -> dict:
    from kbert.errors import KbertInputError

    from kbert.cli.config import merge

    config = merge(DEFAULTS, args)
    if int(config["steps"]) < 1 or int(config["checkpoint_every"]) < 1:
        raise KbertInputError("steps and checkpoint_every must be >= 1")
    return config


def validate(args):
    """Checks before anything is imported or trained (kbert.cli runs this before `run`)."""
    from kbert.validation import check_pretrain

    check_pretrain(load_config(args))


def build(config, out):
    """Tokenizer, pretrainer (compiled) and the training dataset for `config`."""
    import keras

    from kbert import models, tokenizer_training, tokenizers
    from kbert.data.pretraining import pretraining_dataset
    from kbert.errors import KbertInputError
    from kbert.presets import get_preset
    from kbert.training.pretrainer import pretrainer_for

    preset = get_preset(config["model"])
    if preset.family == "distilbert":
        raise KbertInputError("DistilBERT has no segment ids or pooled output: distil it from a BERT instead "
                              "(kbert distill)")
    keras.mixed_precision.set_global_policy("mixed_float16" if config["mixed_precision"] else "float32")
    keras.utils.set_random_seed(int(config["seed"]))
    kind = tokenizer_training.family_kind(preset.family)
    tok_dir = config["tokenizer"] or os.path.join(out, "tokenizer")
    if config["tokenizer"] or tokenizer_training.exists(tok_dir, kind):
        tokenizer = tokenizers.from_folder(tok_dir, preset.family)
    else:
        tokenizer = tokenizer_training.train(kind, config["corpus"], int(config["vocab_size"]), tok_dir)
    seq_len = int(config["seq_len"])
    overrides = dict(config["overrides"])
    overrides.setdefault("max_sequence_length", max(seq_len, preset.config.get("max_sequence_length", 512)))
    backbone = models.backbone(preset.name, vocabulary_size=int(tokenizer.vocabulary_size()), **overrides)
    model = pretrainer_for(backbone, config["objective"])
    steps, warmup = int(config["steps"]), min(int(config["warmup_steps"]), int(config["steps"]) // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(steps - warmup, 1), warmup_target=float(config["learning_rate"]),
        warmup_steps=warmup, alpha=0.1) if warmup else keras.optimizers.schedules.CosineDecay(
        float(config["learning_rate"]), decay_steps=steps, alpha=0.1)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=float(config["weight_decay"]), global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "layer_norm", "embeddings_layer_norm"])
    model.compile(optimizer=optimizer, jit_compile=bool(config["jit_compile"]))
    data = pretraining_dataset(config["corpus"], tokenizer, seq_len=seq_len, batch_size=int(config["batch_size"]),
                               objective=model.pair_task, max_predictions=config["max_predictions"],
                               seed=int(config["seed"]), shuffle_buffer=int(config["shuffle_buffer"]), repeat=True)
    return tokenizer, model, data


def train(config: dict, out: str, verbose: int = 1) -> dict:
    """Run (or resume) one pretraining run; returns a summary dict."""
    import csv
    import time

    import keras

    from kbert.model_dir import save_model_dir
    from kbert.training import callbacks as cb

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    tokenizer, model, data = build(config, out)
    every, steps = int(config["checkpoint_every"]), int(config["steps"])
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
    save_model_dir(os.path.join(out, "model"), model, tokenizer, task="pretrain", seq_len=int(config["seq_len"]),
                   preset=config["model"], objective=model.pair_task, steps=int(model.optimizer.iterations.numpy()),
                   metrics=final)
    return {"ok": True, "out": out, "model_dir": os.path.join(out, "model"), "resumed_from_step": start,
            "steps": int(model.optimizer.iterations.numpy()), "seconds": round(seconds, 1), "metrics": final,
            "plot": png}


def run(args):
    config = load_config(args)
    verbose = 0 if (args.quiet or args.json) else 1
    summary = train(config, args.out, verbose=verbose)
    if args.json:
        print(json.dumps(summary))
    elif not args.quiet:
        m = summary["metrics"]
        print(f"pretrained {config['model']} for {summary['steps']} steps "
              f"(resumed from {summary['resumed_from_step']}) in {summary['seconds']} s: "
              + ", ".join(f"{k} {v:.3f}" for k, v in m.items()) + f" -> {summary['model_dir']}")
    return 0
