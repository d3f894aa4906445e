"""Export a kbert model directory to a phone-ready `.tflite` (metadata + model card), verified first.

examples:
  kbert export tflite --model runs/clf --out clf.tflite                      # float32
  kbert export tflite --model runs/clf --mode dynamic-int8 --out clf.tflite  # Task Library / MediaPipe
  kbert export tflite --model runs/clf --mode int8 --task classify --out clf_int8.tflite
  kbert export tflite --model runs/qa --task qa --seq-len 384 --out qa.tflite
  kbert export tflite --model runs/clf --mode int8 --out clf.tflite --force  # write even if the gate fails

Modes: float32, float16, dynamic-int8, int8 (full integer, calibrated on real text), mixed.
The accuracy gate runs the file in the TFLite interpreter on real held-out sentences (or
--heldout FILE, one text per line, optional `label<TAB>text`) and refuses to write a model that loses
more than --max-drop points (default 1) against the Keras model: exit code 2, message with the numbers.
Next to FILE.tflite it writes FILE.md and FILE.json (mode, size, accuracy vs float, latency).
"""

from __future__ import annotations

import json

MODES = ("float32", "float16", "dynamic-int8", "int8", "mixed")
TASKS = ("classify", "qa", "ner", "embed", "encoder")


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="kbert model directory (model.keras + kbert.json) or a task model's .keras file")
    parser.add_argument("--out", required=True, help="output .tflite path")
    parser.add_argument("--mode", default="float32", choices=MODES)
    parser.add_argument("--task", choices=TASKS, help="default: the task recorded in the model directory")
    parser.add_argument("--seq-len", type=int, help="fixed sequence length (default 128; 384 for qa)")
    parser.add_argument("--heldout", help="held-out text file for the gate: one text per line, or label<TAB>text")
    parser.add_argument("--representative", help="calibration text file for int8/mixed (one text per line)")
    parser.add_argument("--max-drop", type=float, default=1.0, help="max points of accuracy lost (default 1)")
    parser.add_argument("--force", action="store_true", help="write the model even if the accuracy gate fails")
    parser.add_argument("--per-channel", action="store_true",
                        help="dynamic-int8: per-channel dense weights (more accurate; MediaPipe/LiteRT only, "
                        "the Task Library 0.4.4 cannot load them)")
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


def run(args) -> int:
    import os

    from kbert.errors import KbertInputError
    from kbert.export import tflite
    from kbert.model_dir import read_meta

    if not (os.path.isdir(args.model) or os.path.isfile(args.model) and args.model.endswith(".keras")):
        raise KbertInputError(f"--model {args.model}: not a kbert model directory or a task model's .keras file")
    meta = read_meta(args.model)
    heldout = labels = None
    if args.heldout:
        heldout, labels = _read_lines(args.heldout, meta.get("labels"))
    rep = _read_lines(args.representative)[0] if args.representative else None
    result = tflite.export(args.model, args.out, mode=args.mode, task=args.task, seq_len=args.seq_len,
                           heldout=heldout, heldout_labels=labels, representative=rep, threshold=args.max_drop,
                           force=args.force, metadata=not args.no_metadata,
                           per_channel=args.per_channel)
    card = result.card
    rep = card["accuracy_vs_float"]
    if args.json:
        print(json.dumps(card, indent=2, default=float))
    else:
        print(f"wrote {result.path} ({card['size_mb']} MB, {card['mode']}, seq_len {card['seq_len']}): "
              f"agreement {rep.get('agreement', float('nan')):.3f}, drop {rep['metric_drop_points']:.2f} points, "
              f"latency {rep.get('latency_ms') or float('nan'):.1f} ms"
              + ("" if result.passed else "  [GATE FAILED, forced]"))
        if not args.quiet:
            print(f"model card: {os.path.splitext(result.path)[0]}.md / .json")
    return 0
