"""Export a kbert model directory (or a checkpoint folder / Hub name) as a keras-hub preset:
`keras_hub.models.Backbone.from_preset(DIR)` loads it (after `import kbert.tokenizers`, which registers
kbert's classes with Keras), and `keras_hub.models.TextClassifier.from_preset(DIR)` too for a classifier
whose head keras-hub has ("pooled", single-label); other heads get the backbone and tokenizer only.

examples:
  kbert export keras-hub --model runs/sentiment --out presets/sentiment
"""


def add_arguments(p):
    p.add_argument("--model", required=True, help="kbert model directory, HF checkpoint folder or Hub name")
    p.add_argument("--out", required=True, help="preset folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier preset in --out")
    p.add_argument("--task", choices=["auto", "backbone", "classifier"], default="auto",
                   help="auto: the keras-hub task class where the head matches one, else backbone + tokenizer "
                        "(default); backbone: backbone + tokenizer only; classifier: the task class or an error")


def validate(args):
    from kbert.export.keras_hub_preset import _check_out

    _check_out(args.out, args.overwrite)


def run(args):
    import json

    from kbert.export.keras_hub_preset import export_keras_hub

    result = export_keras_hub(args.model, args.out, overwrite=args.overwrite, task=args.task)
    if args.json:
        print(json.dumps(result))
    elif not args.quiet:
        print(f"wrote {result['path']} ({result['task'] or result['backbone']}, {result['tokenizer']})")
        if result["note"]:
            print(f"backbone and tokenizer only: {result['note']}")
    return 0
