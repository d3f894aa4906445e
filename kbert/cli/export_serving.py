"""Export a kbert model directory as a TF Serving SavedModel that takes raw text.

Writes MODEL_BASE/<version>/ (the next free version unless --version is given) with the
signatures `serving_default` (raw UTF-8 strings in, task outputs with readable names out) and
`from_token_ids`, plus warmup requests in assets.extra/. The version directory appears only when
complete; an existing version is kept unless --overwrite. Serving needs tf-text's ops: use the
tensorflow/serving image matching tensorflow-text's version (see docs/serving.md).

examples:
  kbert export serving --model runs/sentiment --out serving/sentiment
  kbert export serving --model runs/sentiment --out serving/sentiment --version 3 --overwrite
  docker run -p 8501:8501 -v $PWD/serving/sentiment:/models/sentiment -e MODEL_NAME=sentiment tensorflow/serving
"""


def add_arguments(p):
    p.add_argument("--model", required=True, help="kbert model directory or task model .keras file (classify, ner, qa or embed)")
    p.add_argument("--out", required=True, help="model base directory; versions are its numbered subdirectories")
    p.add_argument("--version", type=int, help="version number (default: one more than the highest present)")
    p.add_argument("--overwrite", action="store_true", help="replace the version if it exists")
    p.add_argument("--no-warmup", action="store_true", help="do not write assets.extra/tf_serving_warmup_requests")


def validate(args):
    """Checks before TensorFlow is imported (kbert.cli runs this before `run`)."""
    import os

    from kbert.errors import KbertInputError
    from kbert.validation import check_range

    check_range("version", args.version, low=1)
    if not os.path.isdir(args.model) and not (os.path.isfile(args.model) and args.model.endswith(".keras")):
        raise KbertInputError(f"--model {args.model}: no such kbert model directory or task model .keras file")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise KbertInputError(f"--out {args.out} exists and is not a directory")
    parent = args.out if os.path.isdir(args.out) else os.path.dirname(os.path.abspath(args.out))
    while not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise KbertInputError(f"--out {args.out}: {parent} is not writable")


def run(args):
    import json
    import time

    from kbert.export.serving import export_serving

    t0 = time.time()
    path = export_serving(args.model, args.out, version=args.version, overwrite=args.overwrite,
                          warmup=not args.no_warmup)
    result = {"ok": True, "path": path, "version": int(path.rstrip("/").rsplit("/", 1)[-1]),
              "seconds": round(time.time() - t0, 1)}
    if args.json:
        print(json.dumps(result))
    elif args.quiet:
        print(path)
    else:
        print(f"exported {args.model} -> {path} in {result['seconds']}s "
              f"(signatures: serving_default, from_token_ids)")
    return 0
