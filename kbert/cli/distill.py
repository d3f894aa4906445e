"""Distil a teacher into a shallower student (DistilBERT's triple loss, kbert.training.distiller).

Argument parsing over the library recipe `kbert.recipes.distill.distill(config, workdir)`.

--teacher is a kbert model directory holding a fine-tuned classifier (task distillation on its
labelled data: soft labels + hard labels + hidden-state cosine), or `minilm`: the real
all-MiniLM-L6-v2 encoder, which first gets a tied MLM head trained on the frozen encoder
(kbert.training.mlm_teacher), then is distilled by masked-LM distillation on a corpus.

--data: classifier teachers: tweets (38k sentiment tweets), pang_lee, FILE.csv|.tsv|.jsonl
(--text-column, --label-column; labels must be the teacher's). MLM: bundled (Jane Austen, the
default), a text file or a folder of them.

The student has --student-layers layers of the teacher's width, initialised from the teacher
(every other layer; kbert.training.student_init); --student-family distilbert drops token types.
Training writes checkpoints every --checkpoint-every steps into OUT/training: rerunning the same
command after a crash or kill resumes from the newest one (the same weights as an uninterrupted run).
OUT becomes a kbert model directory (the student classifier, or the student encoder for MLM) with
distill_report.json (teacher vs student parameters, size, held-out accuracy, CPU latency at batch
1), distill_history.csv and distill_curves.png (each loss term per epoch).

examples:
  kbert finetune --task classify --model minilm --data tweets --limit 2000 --epochs 2 --seq-len 64 --out runs/tweets
  kbert distill --teacher runs/tweets --student-layers 3 --data tweets --limit 2000 --out runs/tweets-3l
  kbert distill --teacher minilm --student-layers 3 --data bundled --limit 2000 --out runs/minilm-3l
  kbert distill --config kbert/configs/distill_sentiment.json --teacher runs/tweets --out runs/tweets-3l
"""

from __future__ import annotations

import json

from kbert.recipes.distill import DistillConfig

DEFAULTS = DistillConfig().to_dict()  # the recipe's fields, for --config files and flags


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (keys as in kbert/configs/distill_*.json)")
    p.add_argument("--teacher", help="kbert classifier model dir, or 'minilm' (MLM distillation)")
    p.add_argument("--student-layers", type=int)
    p.add_argument("--student-family", choices=["bert", "distilbert"])
    p.add_argument("--init", choices=["teacher", "random"], help="initialise the student from the teacher")
    p.add_argument("--data", help="tweets | pang_lee | FILE.csv/.tsv/.jsonl | bundled | text file/folder")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--limit", type=int, help="training examples")
    p.add_argument("--eval-limit", type=int, help="held-out examples (default 1000)")
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--temperature", type=float)
    p.add_argument("--alpha", type=float, help="weight of the soft-label KL term")
    p.add_argument("--beta", type=float, help="weight of the student's own (MLM / hard-label) loss")
    p.add_argument("--gamma", type=float, help="weight of the hidden-state cosine loss")
    p.add_argument("--ce-positions", choices=["all", "masked"])
    p.add_argument("--head-examples", type=int)
    p.add_argument("--head-epochs", type=int)
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default 100)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", required=True, help="output kbert model directory for the student")


def load_config(args) -> DistillConfig:
    from kbert.cli.config import merge

    return DistillConfig.from_dict(merge(DEFAULTS, args), source=getattr(args, "config", None) or "config")


def validate(args):
    """Checks before anything is imported or trained (kbert.cli runs this before `run`)."""
    from kbert.output_dir import check_output_dir
    from kbert.validation import check_distill

    check_distill(load_config(args).to_dict())
    check_output_dir(args.out)


def run(args):
    from kbert.recipes.distill import distill

    quiet = args.quiet or args.json
    report = distill(load_config(args), args.out, say=(lambda *a: None) if quiet else print, verbose=0 if quiet else 2)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k not in ("history", "config")}, default=str))
    return 0
