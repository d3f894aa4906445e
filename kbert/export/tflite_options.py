"""The TFLite exporter's settings in two groups: how to convert, and how to gate.

    >>> from kbert.export.tflite_options import ConvertOptions, GateOptions, split_options
    >>> convert, gate = split_options(None, None, {"mode": "float16", "threshold": 0.5})
    >>> convert.mode, convert.runtime, gate.threshold, gate.min_agreement
    ('float16', 'mediapipe', 0.5, 0.9)
    >>> split_options(None, None, {"mod": "float16"})
    Traceback (most recent call last):
    TypeError: export() got an unexpected keyword argument 'mod'

`kbert.export.tflite.export(model, out, convert=ConvertOptions(...), gate=GateOptions(...))`; the
same settings as plain keywords (`export(model, out, mode="float16", heldout=texts)`, what the CLI
and the docs use) are sorted into these two groups by `split_options`.
"""

from __future__ import annotations

import dataclasses

from kbert.export.tflite_spec import DEFAULT_RUNTIME


@dataclasses.dataclass
class ConvertOptions:
    """How the flatbuffer is made (see `kbert.export.tflite_spec` for the modes and runtimes)."""

    mode: str = "float32"                 # float32 | float16 | dynamic-int8 | int8 | mixed
    seq_len: int | str | None = None      # None: trained length (or the held-out p99); "trained"; N
    runtime: str = DEFAULT_RUNTIME        # mediapipe | litert | tasklib
    per_channel: bool | None = None       # None: what the runtime loads (tflite_spec.quantization)
    representative: list | None = None    # calibration texts for int8 / mixed (default: real news text)
    allow_custom_ops: bool = False
    metadata: bool = True                 # pack tokenizer / labels / names for the runtimes


@dataclasses.dataclass
class GateOptions:
    """How the file is checked against the Keras model before it is written (`accuracy_gate`)."""

    heldout: object = None                # texts, or (questions, contexts) for QA; None: off-domain text
    heldout_labels: list | None = None
    threshold: float = 1.0                # the metric drop allowed, in points
    min_agreement: float = 0.9
    force: bool = False                   # write a refused file anyway (its card says so)
    latency_runs: int = 10
    check_runtime_tokenizer: bool = True  # the runtime's own tokenizer on raw strings (classifiers)
    reference: dict | None = None         # Keras outputs from an earlier ExportResult (skip recomputing)


CONVERT_FIELDS = tuple(f.name for f in dataclasses.fields(ConvertOptions))
GATE_FIELDS = tuple(f.name for f in dataclasses.fields(GateOptions))


def split_options(convert, gate, keywords: dict) -> tuple[ConvertOptions, GateOptions]:
    """`convert` / `gate` (objects, None, or a mode string for `convert`) updated by plain keywords."""
    if isinstance(convert, str):  # export(model, out, "float16"): the mode, as the third argument was
        convert = ConvertOptions(mode=convert)
    convert = dataclasses.replace(convert) if convert is not None else ConvertOptions()
    gate = dataclasses.replace(gate) if gate is not None else GateOptions()
    for key, value in keywords.items():
        if key in CONVERT_FIELDS:
            setattr(convert, key, value)
        elif key in GATE_FIELDS:
            setattr(gate, key, value)
        else:
            raise TypeError(f"export() got an unexpected keyword argument {key!r}")
    return convert, gate
