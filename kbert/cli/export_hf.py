"""Export a kbert model directory (or a checkpoint folder / Hub name) as a Hugging Face `transformers`
folder: config.json + model.safetensors + tokenizer files, loadable by `AutoModelFor...from_pretrained`.

Encoders -> *Model; classify (pooling "pooled", or "cls" for BERT/ALBERT) -> *ForSequenceClassification;
ner -> *ForTokenClassification; qa -> *ForQuestionAnswering. A mean-pooling classifier has no stock
class: it is refused; --encoder-only exports its encoder (apply the head as in docs/interop.md).

examples:
  kbert export hf --model runs/sentiment --out hf/sentiment
  kbert export hf --model runs/embedder --encoder-only --out hf/encoder
"""


def add_arguments(p):
    p.add_argument("--model", required=True, help="kbert model directory, HF checkpoint folder or Hub name")
    p.add_argument("--out", required=True, help="folder to write (replaced only if an earlier export, with --overwrite)")
    p.add_argument("--encoder-only", action="store_true", help="export only the encoder (*Model), any head dropped")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier kbert export in --out")


def validate(args):
    from kbert.export.hf import _check_out

    _check_out(args.out, args.overwrite)


def run(args):
    import json

    from kbert.export.hf import export_hf

    result = export_hf(args.model, args.out, encoder_only=args.encoder_only, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(result))
    elif not args.quiet:
        print(f"wrote {result['path']} ({result['architecture']}, {result['tensors']} tensors)")
    return 0
