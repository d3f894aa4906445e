"""The oldest TFLite runtime whose kernels load each (builtin op, version) kbert's exports use.

    >>> from kbert.export.op_versions import min_runtime
    >>> min_runtime("FULLY_CONNECTED", 12), min_runtime("FULLY_CONNECTED", 9)
    ('2.17.0', '2.3.0')
    >>> min_runtime("SOME_NEW_OP", 1) is None
    True

Data: TensorFlow's `tensorflow/compiler/mlir/lite/tools/versioning/runtime_version.cc` (the table the
converter uses to write a file's `min_runtime_version`), for the ops a BERT / DistilBERT / ALBERT
export contains; an op or version not listed gives None ("unknown" on the card). Why it matters:
per-channel dynamic-int8 dense layers are FULLY_CONNECTED v12, which needs TFLite 2.17; the Task
Library 0.4.4 (2023) bundles an older runtime and refuses the file.
"""

from __future__ import annotations

# op -> minimum runtime of version 1, 2, ...
_TABLE = {
    "FULLY_CONNECTED": "1.5.0 1.10.0 1.14.0 1.14.0 2.0.0 2.1.0 2.3.0 2.3.0 2.3.0 2.11.0 2.15.0 2.17.0 2.18.0 2.21.0",
    "BATCH_MATMUL": "2.3.0 2.3.0 2.4.0 2.5.0",
    "ADD": "1.5.0 1.14.0 2.4.0 2.6.0 2.13.0 2.23.0",
    "SUB": "1.6.0 1.14.0 2.3.0 2.4.0 2.4.0",
    "MUL": "1.5.0 1.14.0 1.15.0 2.3.0 2.6.0 2.11.0 2.13.0 2.23.0",
    "DIV": "1.6.0 2.3.0",
    "SOFTMAX": "1.5.0 1.14.0 2.3.0",
    "MEAN": "1.6.0 1.14.0 2.4.0",
    "SUM": "1.10.0 1.15.0",
    "SQUARED_DIFFERENCE": "1.13.1 2.5.0",
    "RSQRT": "1.10.0 2.5.0 2.15.0",
    "SQRT": "1.10.0 2.21.0",
    "GATHER": "1.6.0 1.14.0 1.15.0 2.4.0 2.5.0 2.13.0 2.15.0",
    "RESHAPE": "1.5.0",
    "TRANSPOSE": "1.6.0 1.14.0 1.15.0 2.3.0 2.4.0 2.12.0 2.14.4 2.22.0",
    "TANH": "1.14.0 1.14.0 2.3.0",
    "GELU": "2.9.0 2.9.0",
    "CAST": "1.5.0 2.7.0 2.8.0 2.9.0 2.12.0 2.15.0 2.17.0 2.21.0",
    "CONCATENATION": "1.5.0 1.14.0 2.3.0 2.14.0 2.21.0",
    "STRIDED_SLICE": "1.6.0 1.14.0 2.1.0 2.2.0 2.5.0 2.6.0 2.14.0 2.14.0",
    "EXPAND_DIMS": "1.10.0",
    "LOGISTIC": "1.14.0 1.14.0 2.3.0",
    "PAD": "1.5.0 1.14.0 2.4.0 2.6.0 2.20.0",
    "SLICE": "1.14.0 1.14.0 1.14.0 2.4.0 2.5.0 2.14.0 2.21.0",
    "MAXIMUM": "1.14.0 1.14.0 2.3.0 2.3.0",
    "MINIMUM": "1.14.0 1.14.0 2.3.0 2.3.0",
    "QUANTIZE": "1.14.0 1.15.0 2.7.0 2.21.0 2.21.0 2.21.0",
    "DEQUANTIZE": "1.13.1 1.14.0 1.15.0 2.2.0 2.7.0 2.18.0 2.21.0 2.22.0",
    "EMBEDDING_LOOKUP": "1.13.0 1.14.0 1.14.0 2.18.0 2.21.0",
    "POW": "1.10.0",
    "EXP": "1.7.0 2.12.0",
    "PACK": "1.11.0 1.14.0 2.3.0 2.13.0",
    "SQUEEZE": "1.6.0 2.5.0",
    "SELECT_V2": "2.2.0 2.12.0",
    "EQUAL": "1.14.0 1.14.0 2.3.0 2.13.0 2.21.0",
    "NOT_EQUAL": "1.14.0 1.14.0 2.3.0 2.21.0",
    "FILL": "1.13.0 2.3.0 2.5.0 2.12.0",
    "SHAPE": "1.10.0",
    "L2_NORMALIZATION": "1.5.0 1.14.0",
    "NEG": "1.9.0",
    "LESS": "1.14.0 1.14.0 2.13.0",
    "LESS_EQUAL": "1.14.0 1.14.0",
    "GREATER": "1.14.0 1.14.0",
    "GREATER_EQUAL": "1.14.0 1.14.0 2.13.0",
    "SELECT": "1.14.0 1.14.0 2.12.0 2.12.0",
    "ARG_MAX": "1.9.0 1.14.0 2.9.0",
    "REDUCE_MAX": "1.11.0 1.14.0 2.5.0",
    "LOG": "1.14.0 2.15.0",
    "SQUARE": "1.12.0",
    "ONE_HOT": "1.11.0",
    "RANGE": "1.13.0 2.14.0",
    "LOGICAL_AND": "1.11.0",
    "LOGICAL_OR": "1.11.0",
    "LOGICAL_NOT": "1.11.0",
}


def min_runtime(op: str, version: int) -> str | None:
    """The oldest TFLite runtime with a kernel for `op` at `version`, or None if not in the table."""
    versions = _TABLE.get(op, "").split()
    return versions[version - 1] if 1 <= version <= len(versions) else None


def _key(v: str) -> tuple:
    return tuple(int(p) for p in v.split("."))


def newest(versions) -> str | None:
    """The highest of several runtime versions (None entries ignored)."""
    known = [v for v in versions if v]
    return max(known, key=_key) if known else None
