"""Pretrain a BERT (MLM + NSP) or ALBERT (MLM + SOP) encoder from raw text.

Argument parsing over the library recipe `kbert.recipes.pretrain.pretrain(config, workdir)`.

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

from kbert.recipes.pretrain import PretrainConfig

DEFAULTS = PretrainConfig().to_dict()  # the recipe's fields, for --config files and flags


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


def load_config(args) -> PretrainConfig:
    from kbert.cli.config import merge

    return PretrainConfig.from_dict(merge(DEFAULTS, args), source=getattr(args, "config", None) or "config")


def validate(args):
    """Checks before anything is imported or trained (kbert.cli runs this before `run`)."""
    from kbert.validation import check_pretrain

    check_pretrain(load_config(args).to_dict())


def run(args):
    config = load_config(args)
    verbose = 0 if (args.quiet or args.json) else 1
    from kbert.recipes.pretrain import pretrain

    summary = pretrain(config, args.out, verbose=verbose)
    if args.json:
        print(json.dumps(summary))
    elif not args.quiet:
        m = summary["metrics"]
        print(f"pretrained {config.model} for {summary['steps']} steps "
              f"(resumed from {summary['resumed_from_step']}) in {summary['seconds']} s: "
              + ", ".join(f"{k} {v:.3f}" for k, v in m.items()) + f" -> {summary['model_dir']}")
    return 0
