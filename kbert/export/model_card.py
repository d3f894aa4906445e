"""The deployment card written next to every exported `.tflite`: `NAME.md` for people, `NAME.json`
for tools.

    >>> from kbert.export import model_card
    >>> card = model_card.build("clf.tflite", content, mode="dynamic-int8", task="classify", seq_len=64,
    ...                         labels=["neg", "pos"], report=report, passed=True)        # doctest: +SKIP
    >>> model_card.to_markdown(card).splitlines()[0]                                     # doctest: +SKIP
    '# clf.tflite'

Fields: the gate's verdict first (a forced export's card starts with "gate failed"), mode, runtime,
quantization, task, sequence length (and where it came from), size and sha256, tensor names, labels,
the gate's report (metric with its 95% interval, agreement excluding near ties, latency), the held-out
data it used (in-domain labelled, or off-domain unlabelled text: said plainly), the training data and
its licence, and per file the deployment figures measured in a child process: ops and their versions,
the minimum TFLite runtime that has those kernels, the runtimes that actually loaded the file here,
load time, the interpreter's peak memory and the share of ops XNNPACK took. Latency is measured on
this x86 machine (its CPU flags are listed), not on ARM.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform

from kbert.data.sources import NAMED
from kbert.export.tflite_spec import INPUT_NAMES, output_names

# What kbert knows about the licence of its named training sets (kept with their parsers).
DATA_LICENCES = {name: licence for name, (_, _, licence) in NAMED.items()}
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
             "avx512_bf16", "amx_tile", "amx_int8")


def card_paths(tflite_path: str) -> tuple[str, str]:
    stem = os.path.splitext(os.fspath(tflite_path))[0]
    return stem + ".md", stem + ".json"


def machine() -> dict:
    """The CPU the latency was measured on: architecture, model name and SIMD flags."""
    info = {"arch": platform.machine(), "cpu": None, "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    for line in text.splitlines():
        if line.startswith("model name") and info["cpu"] is None:
            info["cpu"] = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            info["flags"] = [f for f in CPU_FLAGS if f in have]
            break
    return info


def latency_note(m: dict | None = None) -> str:
    m = m or machine()
    return (f"latency measured on {m['arch']} ({m.get('cpu') or 'unknown CPU'}; flags {' '.join(m['flags']) or '-'}), "
            "not on ARM: a phone differs")


def build(path, content: bytes, mode: str, task: str, seq_len: int, labels=None, report=None,
          threshold: float = 1.0, passed: bool = True, forced: bool = False, source=None, family=None,
          runtime: str = "mediapipe", quantization: str | None = None, seq_len_source: str | None = None,
          heldout: dict | None = None, training_data: str | None = None, deployment: dict | None = None,
          runtime_checks: dict | None = None, trained_seq_len: int | None = None,
          data_length: dict | None = None) -> dict:
    import kbert

    card = {}
    if not passed:
        card["warning"] = "gate failed: written with --force" if forced else "gate failed"
    card.update({
        "file": os.path.basename(os.fspath(path)),
        "kbert_version": kbert.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "family": family,
        "task": task,
        "mode": mode,
        "runtime": runtime,
        "quantization": quantization,
        "seq_len": seq_len,
        "seq_len_source": seq_len_source,
        "trained_seq_len": trained_seq_len,
        "data_length": data_length,  # the held-out texts' p99 token length behind the choice (data_seq_len)
        "size_bytes": len(content),
        "size_mb": round(len(content) / 1e6, 3),
        "sha256": hashlib.sha256(content).hexdigest(),
        "inputs": list(INPUT_NAMES),
        "outputs": list(output_names(task)),
        "labels": list(labels) if labels is not None else None,
        "accuracy_vs_float": report or {},
        "heldout": heldout or {},
        "gate": {"threshold_points": threshold, "passed": passed, "forced": forced},
        "runtime_checks": runtime_checks or {},
        "training_data": {"name": training_data,
                          "licence": DATA_LICENCES.get(training_data, "not recorded") if training_data else
                          "not recorded"},
        "deployment": deployment or {},
        "machine": machine(),
    })
    card["latency_note"] = latency_note(card["machine"])
    return card


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list) and v and all(isinstance(x, float) for x in v):
        return "[" + ", ".join(f"{x:.3g}" for x in v) + "]"
    return str(v)


def to_markdown(card: dict) -> str:
    rep = card.get("accuracy_vs_float") or {}
    gate = card["gate"]
    verdict = "passed" if gate["passed"] else ("FAILED, written with --force" if gate["forced"] else "failed")
    lines = []
    if not gate["passed"]:
        lines += [f"gate failed: {card['file']} did not pass the accuracy gate"
                  + (" and was written with --force" if gate["forced"] else ""), ""]
    held = card.get("heldout") or {}
    lines += [
        f"# {card['file']}",
        "",
        f"kbert {card['kbert_version']} TFLite export, {card['created']}.",
        "",
        "| field | value |",
        "|---|---|",
        f"| task | {card['task']} |",
        f"| mode | {card['mode']} ({card.get('quantization') or 'no int8 weights'}) |",
        f"| runtime | {card.get('runtime')} |",
        f"| family | {card.get('family')} |",
        f"| sequence length | {card['seq_len']} ({card.get('seq_len_source') or '-'}) |",
        f"| size | {card['size_mb']} MB ({card['size_bytes']} bytes) |",
        f"| sha256 | `{card['sha256']}` |",
        f"| inputs | {', '.join(card['inputs'])} (int32 [1, {card['seq_len']}]) |",
        f"| outputs | {', '.join(card['outputs'])} (float32) |",
        f"| labels | {', '.join(card['labels']) if card.get('labels') else '-'} |",
        f"| source | {card.get('source') or '-'} |",
        f"| training data | {card['training_data']['name'] or '-'}; licence: {card['training_data']['licence']} |",
        "",
        f"## Accuracy gate: **{verdict}** (max {gate['threshold_points']:g} points lost)",
        "",
        f"Held-out data: {held.get('description', '-')}.",
        "",
        *([f"Keras model on the test split (fine-tuning): "
           + ", ".join(f"{k} {_fmt(v)}" for k, v in card["keras_test_metrics"].items()) + ".", ""]
          if card.get("keras_test_metrics") else []),
        "| figure | value |",
        "|---|---|",
    ]
    for k, v in rep.items():
        lines.append(f"| {k} | {_fmt(v)} |")
    checks = card.get("runtime_checks") or {}
    if checks:
        lines += ["", "## On-device runtimes", "", "| runtime | result |", "|---|---|"]
        for k, v in checks.items():
            lines.append(f"| {k} | {_fmt(v) if not isinstance(v, dict) else ', '.join(f'{a}={_fmt(b)}' for a, b in v.items())} |")
    dep = card.get("deployment") or {}
    if dep:
        lines += ["", "## Deployment", "",
                  f"- minimum TFLite runtime for these op versions: {dep.get('min_runtime_version') or 'unknown'}",
                  f"- loaded here by: {dep.get('loaded_by', '-')}",
                  f"- load time: {dep.get('load_ms', '-')} ms; interpreter peak memory: {dep.get('peak_memory_mb', '-')} MB",
                  f"- ops delegated to XNNPACK: {dep.get('xnnpack_ops', '-')} of {dep.get('total_ops', '-')} "
                  f"({100 * dep.get('xnnpack_share', 0):.0f}%)", "",
                  "| op | version | count | minimum TFLite runtime |", "|---|---|---|---|"]
        for op in dep.get("ops", []):
            lines.append(f"| {op['op']}{' (custom)' if op.get('custom') else ''} | {op['version']} | {op['count']} | "
                         f"{op.get('min_runtime') or 'unknown'} |")
    lines += ["", card.get("latency_note", latency_note()) + ".", ""]
    return "\n".join(lines)


def render(tflite_path, card: dict) -> dict:
    """{card path: text} for the pair of card files."""
    md_path, json_path = card_paths(tflite_path)
    return {json_path: json.dumps(card, indent=2, default=float), md_path: to_markdown(card)}
