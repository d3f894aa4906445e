"""Export a kbert model directory to a phone-ready `.tflite` (metadata + model card), verified first.

examples:
  kbert export tflite --model runs/clf --mode dynamic-int8 --heldout val.tsv --out clf.tflite  # MediaPipe / LiteRT
  kbert export tflite --model runs/clf --mode dynamic-int8 --runtime tasklib --out clf.tflite   # Task Library 0.4.4
  kbert export tflite --model runs/clf --out clf.tflite                      # float32
  kbert export tflite --model runs/qa --task qa --seq-len 384 --out qa.tflite
  kbert export tflite --model runs/clf --mode int8 --out clf.tflite --force  # write even if the gate fails

Modes: float32, float16, dynamic-int8, int8 (full integer, calibrated on real text), mixed.
Runtimes: mediapipe (default; MediaPipe Tasks and LiteRT, per-channel dynamic-int8), litert, tasklib
(the Task Library 0.4.4: per-tensor dynamic-int8, checked in .venv-tasklib).
Sequence length: the length the model was trained at (kbert.json), or the --heldout texts' 99th-percentile
token length rounded up to a multiple of 8 when shorter (the card says which and why); --seq-len N
overrides, --seq-len trained forces the trained length.
The accuracy gate runs the file in LiteRT on --heldout FILE (one `label<TAB>text` per line: use the
validation split, >= 1,000 lines) and refuses a model whose accuracy drop may exceed --max-drop points
(upper end of the paired 95% interval; default 1): exit code 2, message with the numbers. Without
--heldout it falls back to off-domain unlabelled sentences (agreement only), and the card says so.
Next to FILE.tflite it writes FILE.md and FILE.json (the deployment card), published together.
"""

from __future__ import annotations

import json

MODES = ("float32", "float16", "dynamic-int8", "int8", "mixed")
RUNTIMES = ("mediapipe", "litert", "tasklib")


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="kbert model directory (model.keras + kbert.json) or a task model's .keras file")
    parser.add_argument("--out", required=True, help="output .tflite path")
    parser.add_argument("--mode", default="float32", choices=MODES)
    parser.add_argument("--task", metavar="TASK", help="classify, qa, ner, embed, encoder or a registered task "
                        "(kbert.tasks.registry.export_names()); default: the task recorded in the model directory")
    parser.add_argument("--runtime", default="mediapipe",
                        help="target runtime: mediapipe (default: MediaPipe Tasks + LiteRT), litert or tasklib")
    parser.add_argument("--seq-len", help="fixed sequence length N, or 'trained' (default: the length the model "
                        "was trained at, or the --heldout texts' p99 length if shorter)")
    parser.add_argument("--heldout", help="held-out text file for the gate: one text per line, or label<TAB>text")
    parser.add_argument("--representative", help="calibration text file for int8/mixed (one text per line)")
    parser.add_argument("--max-drop", type=float, default=1.0, help="max points of accuracy lost (default 1)")
    parser.add_argument("--force", action="store_true", help="write the model even if the accuracy gate fails")
    parser.add_argument("--training-data", help="name of the training data for the card (e.g. tweets)")
    parser.add_argument("--no-metadata", action="store_true", help="do not pack tokenizer/labels metadata")


def _read_lines(path, labels=None):
    from kbert.errors import KbertInputError

    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    except OSError as e:
        raise KbertInputError(f"cannot read {path}: {e}") from e
    if not lines:
        raise KbertInputError(f"{path} has no text lines")
    if all("\t" in ln for ln in lines) and labels:
        texts, ys = [], []
        for n, ln in enumerate(lines, 1):
            lab, text = ln.split("\t", 1)
            if lab not in labels:
                raise KbertInputError(f"{path} line {n}: label {lab!r} is not one of the model's labels {labels}")
            texts.append(text)
            ys.append(labels.index(lab))
        return texts, ys
    return lines, None


def validate(args):
    """Argument checks that need no TensorFlow (run before anything is imported or converted)."""
    import os

    from kbert.errors import KbertInputError

    if args.runtime not in RUNTIMES:
        raise KbertInputError(f"--runtime {args.runtime}: unknown runtime; expected one of {', '.join(RUNTIMES)}")
    if args.seq_len is not None and args.seq_len != "trained":
        try:
            args.seq_len = int(args.seq_len)
        except (TypeError, ValueError):
            raise KbertInputError(f"--seq-len {args.seq_len}: expected a whole number or 'trained'") from None
        if args.seq_len < 3:
            raise KbertInputError(f"--seq-len {args.seq_len}: must be at least 3 ([CLS], a token, [SEP])")
    if args.max_drop < 0:
        raise KbertInputError(f"--max-drop {args.max_drop:g}: must be >= 0 points")
    if os.path.isfile(args.model) and args.model.endswith(".keras"):
        folder = os.path.dirname(os.path.abspath(args.model))
        if os.path.basename(args.model) == "model.keras" and os.path.isfile(os.path.join(folder, "kbert.json")):
            args.model = folder  # the model file of a kbert model directory: the directory
        # otherwise a task model's own .keras file (kbert.TextClassifier(...).save(...)), read as it is
    elif not os.path.isdir(args.model):
        raise KbertInputError(f"--model {args.model}: no such directory or task model .keras file")
    for flag in ("heldout", "representative"):
        path = getattr(args, flag)
        if path and not os.path.isfile(path):
            raise KbertInputError(f"--{flag} {path}: no such file")
    if os.path.isdir(args.out):
        raise KbertInputError(f"--out {args.out} is a directory; give a .tflite file path")


def run(args) -> int:
    import os

    from kbert.errors import KbertInputError
    from kbert.export import tflite
    from kbert.model_dir import read_meta

    validate(args)
    meta = read_meta(args.model)
    heldout = labels = None
    if args.heldout:
        heldout, labels = _read_lines(args.heldout, meta.get("labels"))
    rep = _read_lines(args.representative)[0] if args.representative else None
    conversion = tflite.ConvertOptions(mode=args.mode, seq_len=args.seq_len, runtime=args.runtime, representative=rep,
                                       metadata=not args.no_metadata)
    gate = tflite.GateOptions(heldout=heldout, heldout_labels=labels, threshold=args.max_drop, force=args.force)
    result = tflite.export(args.model, args.out, conversion, gate, task=args.task, training_data=args.training_data)
    card = result.card
    rep = card["accuracy_vs_float"]
    if args.json:
        print(json.dumps(card, indent=2, default=float))
    else:
        ci = rep.get("metric_drop_ci95")
        drop = f"drop {rep['metric_drop_points']:.2f} points" + (f" (95% [{ci[0]:.2f}, {ci[1]:.2f}])" if ci else "")
        print(f"wrote {result.path} ({card['size_mb']} MB, {card['mode']}, {card['runtime']}, seq_len "
              f"{card['seq_len']}): agreement {rep.get('agreement', float('nan')):.3f}, {drop}, "
              f"latency {rep.get('latency_ms') or float('nan'):.1f} ms"
              + ("" if result.passed else "  [GATE FAILED, forced]"))
        if not args.quiet:
            print(f"model card: {os.path.splitext(result.path)[0]}.md / .json")
    return 0
