"""The `kbert` command. Argument parsing only: each subcommand lives in one `kbert/cli/` module
that defines `add_arguments(parser)` and `run(args) -> int | None`, and may define `validate(args)`:
checks that need no TensorFlow (argument ranges, files, `--out`), run before `run` so that a bad
input exits 2 at once, before anything is imported, built or trained.

Exit codes: 0 ok, 2 bad input (a `KbertInputError` or a usage error), 1 failure.
Errors print as one line; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from kbert.errors import KbertInputError, one_line

# (command path, kbert.cli module, one-line help). Heavy imports happen inside each run().
COMMANDS = [
    (("presets",), "kbert.cli.presets", "list the model zoo's presets with parameter counts"),
    (("info",), "kbert.cli.info", "describe a checkpoint folder or kbert model directory"),
    (("quickstart",), "kbert.cli.quickstart", "the end-to-end demo on the real MiniLM checkpoint"),
    (("tokenizer", "train"), "kbert.cli.tokenizer", "train a WordPiece or SentencePiece tokenizer from a corpus"),
    (("pretrain",), "kbert.cli.pretrain", "pretrain a BERT (MLM+NSP) or ALBERT (MLM+SOP) encoder from raw text"),
    (("distill",), "kbert.cli.distill", "distil a teacher (classifier dir or minilm) into a shallower student"),
    (("finetune",), "kbert.cli.finetune", "fine-tune an encoder for classification, NER or extractive QA"),
    (("export", "serving"), "kbert.cli.export_serving", "export a TF Serving SavedModel that takes raw text"),
    (("export", "tflite"), "kbert.cli.export_tflite", "export a verified phone-ready .tflite with metadata and a model card"),
    (("export", "hf"), "kbert.cli.export_hf", "export a Hugging Face transformers folder (config + safetensors + tokenizer)"),
    (("export", "keras-hub"), "kbert.cli.export_keras_hub", "export a keras-hub preset (Backbone.from_preset loads it)"),
    (("bench",), "kbert.cli.bench", "run the benchmark scripts in bench/ and regenerate bench/RESULTS.md"),
]

EPILOG = """examples:
  kbert presets                                   the model zoo with exact parameter counts
  kbert info PATH                                 describe a checkpoint folder or model directory
  kbert quickstart                                real MiniLM -> sentiment classifier -> phone-ready .tflite
  kbert tokenizer train --kind sentencepiece --corpus bundled --vocab-size 8000 --out runs/spm
  kbert pretrain --model albert_tiny --corpus bundled --steps 300 --out runs/albert
  kbert finetune --task classify --model minilm --data tweets --out runs/sentiment
  kbert distill --teacher runs/sentiment --student-layers 3 --data tweets --out runs/student
  kbert export tflite --model runs/sentiment --mode dynamic-int8 --out sentiment.tflite
  kbert export serving --model runs/sentiment --out serving/sentiment
  kbert export hf --model runs/sentiment --out hf/sentiment
  kbert bench all --quick

Every command takes --help, --quiet, --json and --debug. Exit codes: 0 ok, 2 bad input, 1 failure.
"""


def build_parser() -> argparse.ArgumentParser:
    def flags(default):
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--debug", action="store_true", default=default, help="show full tracebacks on errors")
        p.add_argument("--quiet", action="store_true", default=default, help="print only results and errors")
        p.add_argument("--json", action="store_true", default=default, help="print machine-readable JSON results")
        return p

    # The flags work before or after the subcommand: the subcommands' copies leave the value
    # alone unless given (SUPPRESS), so `kbert --quiet finetune ...` stays quiet.
    common, sub_common = flags(False), flags(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="kbert",
        description="BERT, DistilBERT and ALBERT for Keras: pretrain, distil, fine-tune, export to TFLite "
        "and TF Serving.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    from kbert import __version__

    parser.add_argument("--version", action="version", version=f"kbert {__version__}")
    subparsers = {(): parser.add_subparsers(dest="command", metavar="COMMAND")}
    for path, module_name, help_text in COMMANDS:
        for depth in range(1, len(path)):  # groups such as `export`
            group = path[:depth]
            if group not in subparsers:
                p = subparsers[group[:-1]].add_parser(group[-1], help=f"{group[-1]} subcommands",
                                                      parents=[sub_common])
                subparsers[group] = p.add_subparsers(dest="_".join(group) + "_command", metavar="COMMAND",
                                                     required=True)
        module = importlib.import_module(module_name)
        sub = subparsers[path[:-1]].add_parser(
            path[-1],
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[sub_common],
        )
        module.add_arguments(sub)
        sub.set_defaults(command_run=module.run, command_validate=getattr(module, "validate", None))
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command_run"):
        parser.print_help()
        return 2
    if args.debug:
        return _main(args)
    from kbert.cli.quiet import quiet_stderr

    # native start-up noise goes to a log file only for a real command line (argv None), never for
    # `bench`, whose scripts' stderr must stay visible
    with quiet_stderr(native=argv is None and args.command != "bench"):
        return _main(args)


def _main(args) -> int:
    try:
        if args.command_validate is not None:
            args.command_validate(args)
        code = args.command_run(args)
        return int(code or 0)
    except KbertInputError as e:
        if args.debug:
            raise
        _error(args, "error", e)
        return 2
    except KeyboardInterrupt:
        print("kbert: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI's last line of defence
        if args.debug:
            raise
        _error(args, "failed", e, hint=" (run with --debug for the traceback)")
        return 1


def _error(args, kind, e, hint=""):
    if args.json:
        print(json.dumps({"ok": False, "error": kind, "message": one_line(e), "detail": str(e)}))
    else:
        print(f"kbert: {kind}: {one_line(e)}{hint}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
