"""The model card written next to every exported `.tflite`: `NAME.md` for people, `NAME.json` for tools.

    >>> from kbert.export import model_card
    >>> card = model_card.build("clf.tflite", content, mode="int8", task="classify", seq_len=128,
    ...                         labels=["neg", "pos"], report=report, threshold=1.0, passed=True)  # doctest: +SKIP
    >>> model_card.write("clf.tflite", card)   # -> clf.md, clf.json                           # doctest: +SKIP

Fields: mode, task, seq_len, file size, the Task Library / MediaPipe tensor names, labels, and the
accuracy gate's report (agreement, max/mean score difference, metric drop, latency) against the
float Keras model.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os


def card_paths(tflite_path: str) -> tuple[str, str]:
    stem = os.path.splitext(os.fspath(tflite_path))[0]
    return stem + ".md", stem + ".json"


def build(path, content: bytes, mode: str, task: str, seq_len: int, labels=None, report=None,
          threshold: float = 1.0, passed: bool = True, forced: bool = False, source=None, family=None) -> dict:
    import kbert
    from kbert.export.tflite import INPUT_NAMES, output_names

    return {
        "file": os.path.basename(os.fspath(path)),
        "kbert_version": kbert.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "family": family,
        "task": task,
        "mode": mode,
        "seq_len": seq_len,
        "size_bytes": len(content),
        "size_mb": round(len(content) / 1e6, 3),
        "sha256": hashlib.sha256(content).hexdigest(),
        "inputs": list(INPUT_NAMES),
        "outputs": list(output_names(task)),
        "labels": list(labels) if labels is not None else None,
        "accuracy_vs_float": report or {},
        "gate": {"threshold_points": threshold, "passed": passed, "forced": forced},
    }


def to_markdown(card: dict) -> str:
    rep = card.get("accuracy_vs_float") or {}
    lines = [
        f"# {card['file']}",
        "",
        f"kbert {card['kbert_version']} TFLite export, {card['created']}.",
        "",
        "| field | value |",
        "|---|---|",
        f"| task | {card['task']} |",
        f"| mode | {card['mode']} |",
        f"| family | {card.get('family')} |",
        f"| sequence length | {card['seq_len']} |",
        f"| size | {card['size_mb']} MB ({card['size_bytes']} bytes) |",
        f"| inputs | {', '.join(card['inputs'])} (int32 [1, {card['seq_len']}]) |",
        f"| outputs | {', '.join(card['outputs'])} (float32) |",
        f"| labels | {', '.join(card['labels']) if card.get('labels') else '-'} |",
        f"| source | {card.get('source') or '-'} |",
        "",
        "## Accuracy against the float Keras model",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for k, v in rep.items():
        lines.append(f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |")
    gate = card["gate"]
    verdict = "passed" if gate["passed"] else ("FAILED, written with --force" if gate["forced"] else "failed")
    lines += ["", f"Accuracy gate (max {gate['threshold_points']:g} points lost): **{verdict}**.",
              "Latency: median interpreter invoke, batch 1, 2 threads, on the exporting machine.", ""]
    return "\n".join(lines)


def write(tflite_path, card: dict) -> tuple[str, str]:
    from kbert.export.tflite import atomic_write

    md_path, json_path = card_paths(tflite_path)
    atomic_write(json_path, json.dumps(card, indent=2, default=float))
    atomic_write(md_path, to_markdown(card))
    return md_path, json_path
