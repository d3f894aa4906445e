"""Fine-tune an encoder for classification, NER or extractive QA.

Argument parsing over the library recipe `kbert.recipes.finetune.finetune(config, workdir)`.

--model is a preset (random weights; BERT/DistilBERT presets use the uncased BERT vocabulary of the
real MiniLM checkpoint, ALBERT presets need --tokenizer), a Hugging Face checkpoint folder or Hub
name, a saved kbert model (its encoder), or `minilm` (the real all-MiniLM-L6-v2). --data is a named
real set, a TFDS name or a local file:

  classify: tweets (38k sentiment tweets, 3 classes), pang_lee (200 reviews), tfds:glue/sst2,
            tfds:glue/mnli, tfds:imdb_reviews, FILE.csv|.tsv|.jsonl (--text-column, --label-column,
            --text-b-column for pairs, --multi-label with "a|b" labels)
  ner:      wnut16, tfds:conll2003, FILE.conll|.txt (token ... tag per line)
  qa:       handwritten (kbert's 35 SQuAD v2 questions), tfds:squad, tfds:squad/v2.0, FILE.json|.jsonl

Without --eval-data, local and named sets are split 80/10/10 (train/validation/test, seeded);
TFDS sets use their train and validation splits. Training shows a progress bar, stops early on
the validation loss (--patience), keeps the best weights, and resumes after a crash when rerun
with the same --out (Keras BackupAndRestore in OUT/training). OUT becomes a kbert model directory
(`kbert export tflite --model OUT` reads it; OUT/model.keras is the task model, e.g. a
kbert.TextClassifier with its tokenizer and labels) holding also metrics.json, history.csv,
training_curves.png and, for classification, confusion_matrix.png.

examples:
  kbert finetune --task classify --model minilm --data tweets --limit 2000 --epochs 2 --out runs/tweets
  kbert finetune --task ner --model minilm --data wnut16 --epochs 3 --out runs/wnut
  kbert finetune --task qa --model bert_tiny --data handwritten --epochs 30 --out runs/qa
  kbert finetune --config kbert/configs/finetune_sentiment.json --out runs/tweets
"""

from __future__ import annotations

import json

from kbert.recipes.finetune import FinetuneConfig

DEFAULTS = FinetuneConfig().to_dict()  # the recipe's fields, for --config files and flags


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (keys as in kbert/configs/finetune_*.json)")
    p.add_argument("--task", metavar="TASK", help="classify (default), ner, qa, or any task registered with "
                   "kbert.tasks.registry (checked by the recipe)")
    p.add_argument("--model", help="preset, HF checkpoint folder or Hub name (bert-base-uncased, hf://owner/name), "
                   "saved kbert model, or 'minilm' (default)")
    p.add_argument("--tokenizer", help="tokenizer folder (needed for ALBERT presets)")
    p.add_argument("--data", help="named set, tfds:NAME or a file (see above)")
    p.add_argument("--eval-data", help="validation file (default: split --data)")
    p.add_argument("--text-column"), p.add_argument("--label-column"), p.add_argument("--text-b-column")
    p.add_argument("--multi-label", action="store_true", default=None)
    p.add_argument("--limit", type=int, help="at most N training examples")
    p.add_argument("--eval-limit", type=int, help="at most N validation and N test examples")
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--dropout", type=float)
    p.add_argument("--pooling", choices=["pooled", "cls", "mean"])
    p.add_argument("--o-weight", type=float, help="ner: loss weight of the 'O' tag, in (0, 1] (default 1)")
    p.add_argument("--patience", type=int, help="epochs without val_loss improvement before stopping")
    p.add_argument("--doc-stride", type=int), p.add_argument("--max-answer-len", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", required=True, help="output model directory")


def load_config(args) -> FinetuneConfig:
    from kbert.cli.config import merge

    return FinetuneConfig.from_dict(merge(DEFAULTS, args), source=getattr(args, "config", None) or "config")


def validate(args):
    """Checks before anything is imported or trained (kbert.cli runs this before `run`)."""
    from kbert.output_dir import check_output_dir
    from kbert.validation import check_finetune

    check_finetune(load_config(args).to_dict())
    check_output_dir(args.out)


def finetune(config, out, say=print, verbose=1) -> dict:
    """`kbert.recipes.finetune.finetune` (kept for `kbert quickstart`)."""
    from kbert.recipes.finetune import finetune as recipe

    return recipe(config, out, say=say, verbose=verbose)


def run(args):
    from kbert.recipes.finetune import summary

    config = load_config(args)
    say = (lambda *a: None) if args.quiet or args.json else print
    result = finetune(config, args.out, say=say, verbose=0 if args.quiet or args.json else 1)
    say(summary(result))
    say(f"model directory: {args.out} (kbert export tflite --model {args.out})")
    if args.json:
        print(json.dumps({"ok": True, "out": args.out, "test": {k: v for k, v in result["test"].items()
                                                                if isinstance(v, (int, float))}}))
    return 0
