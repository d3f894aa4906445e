"""Keras task model -> a verified, phone-ready `.tflite` with metadata and its deployment card.

    >>> from kbert.export import tflite
    >>> result = tflite.export("runs/clf", "clf.tflite", mode="dynamic-int8",
    ...                        heldout=val_texts, heldout_labels=val_ids)               # doctest: +SKIP
    >>> result.card["accuracy_vs_float"]["metric_drop_ci95"]                            # doctest: +SKIP
    [-0.31, 0.38]

`export()` is the top of the exporter; each step is its own module (no module imports one above it):

    tflite_spec     modes, runtimes, tensor names, sequence length, the fixed-shape Keras wrapper
    tflite_convert  Keras -> flatbuffer bytes (the one TFLiteConverter), explicit attention
    litert          running / inspecting flatbuffers with ai_edge_litert (user files in a subprocess)
    accuracy_gate   Keras vs TFLite on held-out data: paired non-inferiority, agreement, latency
    runtime_check   the runtime's own tokenizer: MediaPipe / Task Library on raw strings
    metadata        tokenizer files, labels and tensor names packed for the runtimes
    model_card      the deployment card (NAME.md, NAME.json)
    publish         the .tflite and its card published together, leftovers of killed runs cleaned
    tflite          this file: export() runs them in order

Defaults follow what a phone should get: the length the model was trained at (kbert.json
`seq_len`), or the held-out texts' 99th-percentile token length rounded up to a multiple of 8 when
that is shorter (`tflite_spec.data_seq_len`; the gate's Keras reference stays at the trained length,
so what the truncation costs is judged too; the card records both lengths and why; `seq_len=N`
overrides, `seq_len="trained"` forces the trained length, never beyond the encoder's positions), the maintained runtimes
(`runtime="mediapipe"`: MediaPipe Tasks and LiteRT, per-channel dynamic-int8), and the gate on the
held-out data given (`heldout` + `heldout_labels`: in-domain, labelled, >= 1,000 examples where the
data has them); without data, off-domain unlabelled sentences, and the card says so.
"""

from __future__ import annotations

import dataclasses
import os

from kbert.errors import KbertInputError
from kbert.export.publish import atomic_write  # noqa: F401  (kept importable from here)
from kbert.export.tflite_convert import (INT8_MASK_FILL, MIXED_FLOAT_OPS, check_builtin_only, convert,  # noqa: F401
                                         explicit_attention, quiet_convert)
from kbert.export.tflite_spec import (DEFAULT_RUNTIME, INPUT_NAMES, MODES, RUNTIMES,  # noqa: F401
                                      check_mode, check_runtime, data_seq_len, default_seq_len, export_tasks,
                                      infer_task, mobile_model, output_names, quantization, representative_inputs,
                                      resolve_seq_len, task_spec, token_lengths, tokenize)


@dataclasses.dataclass
class ExportResult:
    path: str | None
    content: bytes
    card: dict
    passed: bool
    reference: dict | None = None  # the Keras outputs on the held-out batch, reusable for another mode


def _writable_target(out) -> str:
    out = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(out)) or "."
    probe = folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if os.path.isdir(out):
        raise KbertInputError(f"--out {out} is a directory; give a .tflite file path")
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise KbertInputError(f"--out {out}: cannot write into {probe}")
    return out


def _heldout_description(texts, labels, given: bool) -> dict:
    n = len(texts[0]) if isinstance(texts, tuple) and not isinstance(texts[0], str) else len(texts)
    if not given:
        return {"kind": "off-domain unlabelled", "examples": n,
                "description": f"no held-out data given: {n} off-domain real sentences without labels (agreement "
                               "only; no statistical power; pass in-domain labelled validation data)"}
    if labels is None:
        return {"kind": "given unlabelled", "examples": n,
                "description": f"{n} given examples without labels (agreement only; no statistical power)"}
    return {"kind": "labelled", "examples": n,
            "description": f"{n} given labelled examples (paired non-inferiority on the task metric)"}


def export(model, out: str, mode: str = "float32", task: str | None = None, seq_len: int | str | None = None,
           tokenizer=None, labels=None, multi_label: bool = False, heldout=None, heldout_labels=None,
           representative=None, threshold: float = 1.0, force: bool = False, metadata: bool = True,
           allow_custom_ops: bool = False, latency_runs: int = 10, family: str | None = None,
           per_channel: bool | None = None, min_agreement: float = 0.9, runtime: str = DEFAULT_RUNTIME,
           training_data: str | None = None, reference: dict | None = None, check_runtime_tokenizer: bool = True,
           deployment: bool = True) -> ExportResult:
    """Convert, gate, add metadata, and publish `out` with its deployment card (`.md` / `.json`).

    `model` is a Keras task model or a kbert model directory. `heldout` is a list of texts (or
    `(texts_a, texts_b)` pairs for QA) with `heldout_labels` (class ids; for ner / qa see
    `accuracy_gate.judge`). Raises `AccuracyGateError` (a `KbertInputError`) when the gate refuses
    the file (see `kbert.export.accuracy_gate`), unless `force`: then the card's first line says
    "gate failed". `reference` (from an earlier `ExportResult`) skips recomputing the Keras outputs.
    """
    from kbert.export import accuracy_gate, model_card, runtime_check
    from kbert.export import metadata as md
    from kbert.export.publish import publish

    check_mode(mode)
    check_runtime(runtime)
    out = _writable_target(out)
    source, meta, trained = None, {}, None
    if isinstance(model, (str, os.PathLike)):
        from kbert.model_dir import load_model_dir

        d = load_model_dir(model)
        source, model, meta = os.fspath(d.path), d.model, d.meta
        tokenizer = tokenizer or d.tokenizer
        labels = labels or d.labels
        multi_label = multi_label or bool(meta.get("multi_label"))
        family = family or meta.get("family")
        trained = meta.get("seq_len")
        training_data = training_data or meta.get("data")
        if task is None and meta.get("task") in export_tasks():
            task = meta["task"]
    elif hasattr(model, "export_meta"):  # an in-memory kbert task model (kbert.TextClassifier, ...)
        meta = model.export_meta()
        tokenizer = tokenizer or model.tokenizer
        labels = labels or meta.get("labels")
        multi_label = multi_label or bool(meta.get("multi_label"))
        family = family or meta.get("family")
        trained = model.seq_len
        if task is None and meta.get("task") in export_tasks():
            task = meta["task"]
    task = task or infer_task(model)
    if task not in export_tasks():
        raise KbertInputError(f"task {task!r} cannot be exported to TFLite; expected one of {', '.join(export_tasks())}")
    spec = task_spec(task)
    requested = seq_len
    seq_len = resolve_seq_len(model, task, requested, trained)
    seq_len_source = ("the trained length" + (" (forced)" if requested == "trained" else "")
                      if requested in (None, "trained") and trained is not None else
                      "the task default" if requested in (None, "trained") else
                      "requested" + (f" (trained at {trained})" if trained is not None else ""))
    base_seq_len, data_length = seq_len, None
    if (requested is None and heldout is not None and spec.length_free_labels and tokenizer is not None
            and not accuracy_gate.is_pair(heldout)):
        # the data's 99th-percentile length, if shorter than the trained one (a smaller, faster file);
        # the gate's Keras reference stays at the trained length, so what truncation costs is judged too
        seq_len, data_length = data_seq_len(token_lengths(tokenizer, list(heldout), base_seq_len), base_seq_len)
        what = data_length["description"]
        if seq_len < base_seq_len:
            seq_len_source = what + (f" (trained at {trained})" if trained is not None else
                                     f" (the task default {base_seq_len})")
        else:
            seq_len_source += f"; {what}"
    if per_channel is None:
        per_channel = quantization(mode, runtime) == "per-channel"
    if spec.seq_len_note and seq_len != spec.export_seq_len:
        import warnings

        warnings.warn(spec.seq_len_note.format(seq_len=seq_len), stacklevel=2)
    if spec.tflite_metadata == "classifier" and labels is None:  # the label file needs names
        n = int(model.output["logits"].shape[-1])
        labels = [f"label_{i}" for i in range(n)]
    if metadata and tokenizer is not None:
        runtime_check.sentencepiece_normalisation(tokenizer, [] if heldout is None or accuracy_gate.is_pair(heldout)
                                                  else heldout)
    given = heldout is not None
    texts = heldout if given else accuracy_gate.default_texts(task, "heldout")
    if heldout_labels is not None and len(heldout_labels) != (len(texts[0]) if accuracy_gate.is_pair(texts)
                                                              else len(texts)):
        raise KbertInputError(f"{len(heldout_labels)} held-out labels for a different number of held-out texts")
    if tokenizer is None:
        raise KbertInputError("a tokenizer is needed to turn the held-out text into inputs")
    batch = tokenize(tokenizer, None if accuracy_gate.is_pair(texts) else texts, seq_len,
                     pairs=texts if accuracy_gate.is_pair(texts) else None)
    rep_inputs = None
    if mode in ("int8", "mixed"):
        rep_inputs = accuracy_gate.default_inputs(tokenizer, task, seq_len, representative, kind="representative")
    content = convert(model, mode, task, seq_len, rep_inputs, multi_label, allow_custom_ops, per_channel=per_channel)
    if not allow_custom_ops:
        custom = check_builtin_only(content)
        if custom:
            raise KbertInputError(f"the converted model uses non-built-in ops {custom}; pass allow_custom_ops=True")
    if reference is None:  # the Keras model as trained: at the base length when the data chose a shorter one
        ref_batch = batch if seq_len == base_seq_len else tokenize(tokenizer, texts, base_seq_len)
        reference = accuracy_gate.keras_outputs(model, task, base_seq_len, ref_batch, multi_label=multi_label)
    lite, latency = accuracy_gate.lite_outputs(content, batch, latency_runs=latency_runs)
    report = accuracy_gate.judge(task, reference, lite, batch, heldout_labels, threshold,
                                 min_agreement=min_agreement, label_names=labels)
    report.update(latency_ms=latency, num_threads=2)
    passed = report["passed"]
    if metadata and tokenizer is not None:
        content = md.add_metadata(content, task, tokenizer, labels=labels, seq_len=seq_len)
    checks = {}
    going_out = passed or force  # a refused file is not checked further: the error says why
    # the runtime's own tokenizer on the raw strings (a plain LiteRT app tokenizes itself: nothing to run)
    checker = {"mediapipe": runtime_check.mediapipe_classifier, "tasklib": runtime_check.tasklib_classifier}.get(runtime)
    if (going_out and checker and check_runtime_tokenizer and metadata and tokenizer is not None
            and spec.raw_string_check and not multi_label and not accuracy_gate.is_pair(texts)):
        check = checker(content, list(texts), reference["probability"], lite["probability"], labels)
        checks[check["runtime"]] = check
        if check.get("passed") is False:
            passed = False
            report["runtime_tokenizer"] = (
                f"{check['runtime']} on the raw held-out strings " + (
                    f"labels {check['tokenizer_mismatches_excluding_ties']} of {check['examples']} examples outside "
                    f"near ties differently from the same file fed kbert's token ids (at most "
                    f"{100 * check['max_mismatch']:g}% allowed): its tokenizer does not match training"
                    if "tokenizer_mismatches_excluding_ties" in check else check.get("note", "failed")))
    dep = _deployment(content) if deployment and going_out else {}
    if dep:
        dep["loaded_by"] = ", ".join([f"LiteRT {dep.get('litert_version')}", *checks])
    card = model_card.build(out, content, mode=mode, task=task, seq_len=seq_len, labels=labels, report=report,
                            threshold=threshold, passed=passed, forced=force and not passed, source=source,
                            family=family or meta.get("family"), runtime=runtime,
                            quantization=("per-channel" if per_channel else "per-tensor") if mode == "dynamic-int8"
                            else quantization(mode, runtime), seq_len_source=seq_len_source,
                            heldout=_heldout_description(texts, heldout_labels, given), training_data=training_data,
                            deployment=dep, runtime_checks=checks, trained_seq_len=trained, data_length=data_length)
    card["per_channel"] = bool(per_channel) if mode == "dynamic-int8" else None
    if meta.get("metrics"):  # the Keras model's figures on the recipe's test split, from fine-tuning
        card["keras_test_metrics"] = meta["metrics"]
    if not passed and not force:
        msg = report.get("runtime_tokenizer") or accuracy_gate.refusal_message(out, mode, report, threshold)
        if report.get("runtime_tokenizer"):
            msg = f"refusing to write {out}: {msg}; pass --force to write it anyway"
        error = accuracy_gate.AccuracyGateError(msg)
        error.card, error.reference = card, reference  # for callers trying several modes (the quickstart)
        raise error
    publish(out, content, model_card.render(out, card))
    return ExportResult(out, content, card, passed, reference)


def _deployment(content: bytes) -> dict:
    """Ops, versions, minimum runtime, load time, peak memory, XNNPACK share (measured in a child)."""
    import tempfile

    from kbert.export import litert

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.tflite")
        with open(path, "wb") as f:
            f.write(content)
        info = litert.inspect_file(path)
    return {k: info[k] for k in ("min_runtime_version", "load_ms", "peak_memory_mb", "xnnpack_ops", "total_ops",
                                 "xnnpack_share", "ops", "litert_version")}
