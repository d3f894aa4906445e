"""kbert: BERT, DistilBERT and ALBERT for Keras, from raw text to phones and TF Serving.

    >>> import kbert
    >>> encoder = kbert.models.backbone("bert_tiny")
    >>> encoder.count_params() == kbert.models.param_count("bert_tiny")
    True

    >>> clf = kbert.TextClassifier.from_preset("bert_tiny", num_classes=2, seq_len=16)
    >>> clf.predict(["a fine day"], decode=True, verbose=0)[0] in ("label_0", "label_1")
    True

Submodules and the task classes (`TextClassifier`, `TokenClassifier`, `QuestionAnswerer`,
`TextEmbedder`, `load`) load on first use, so `import kbert` (and `kbert presets`) does not pull
in TensorFlow until a model is needed.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from kbert.errors import KbertInputError  # noqa: E402

_SUBMODULES = {"models", "presets", "tokenizers", "assets", "checkpoints", "model_dir", "data", "training",
               "tasks", "export"}


# The task models (keras-hub style: backbone + preprocessor, `from_preset`, raw text in `fit` /
# `predict`) and `load` (any saved task model), from kbert.tasks.registry on first use.
_TASK_API = {"TextClassifier", "TokenClassifier", "QuestionAnswerer", "TextEmbedder", "load"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kbert.{name}")
    if name in _TASK_API:
        registry = importlib.import_module("kbert.tasks.registry")
        return registry.load if name == "load" else getattr(registry, name)
    raise AttributeError(f"module 'kbert' has no attribute {name!r}")


__all__ = sorted(_SUBMODULES | _TASK_API) + ["KbertInputError", "__version__"]
