"""kbert: BERT, DistilBERT and ALBERT for Keras, from raw text to phones and TF Serving.

    >>> import kbert
    >>> encoder = kbert.models.backbone("bert_tiny")
    >>> encoder.count_params() == kbert.models.param_count("bert_tiny")
    True

Submodules load on first use, so `import kbert` (and `kbert presets`) does not pull in
TensorFlow until a model is needed.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from kbert.errors import KbertInputError  # noqa: E402

_SUBMODULES = {"models", "presets", "tokenizers", "assets", "checkpoints", "model_dir", "data", "training",
               "tasks", "export"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kbert.{name}")
    raise AttributeError(f"module 'kbert' has no attribute {name!r}")


__all__ = sorted(_SUBMODULES) + ["KbertInputError", "__version__"]
