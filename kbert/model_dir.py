"""A kbert model directory: what fine-tuning, pretraining and distillation leave behind, and what
the TFLite and Serving exporters read.

    DIR/
      model.keras            the Keras model (inputs token_ids, padding_mask[, segment_ids])
      kbert.json             task, family, seq_len, labels, metrics, ...
      vocab.txt | spiece.model, tokenizer_config.json

    >>> save_model_dir("runs/clf", model, tokenizer, task="classify", seq_len=128,
    ...                labels=["negative", "neutral", "positive"])            # doctest: +SKIP
    >>> md = load_model_dir("runs/clf")                                         # doctest: +SKIP
    >>> md.model, md.tokenizer, md.meta["labels"]                               # doctest: +SKIP

Writes are atomic: the directory appears under its name only once every file is in it.
Loading keeps Keras' `safe_mode=True` (no Python code in the file is executed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from kbert import tokenizers
from kbert._compat.sentencepiece import make_durable
from kbert.atomic import publish_dir
from kbert.errors import KbertInputError
from kbert.output_dir import check_output_dir

MODEL_FILE = "model.keras"
META_FILE = "kbert.json"
TASKS = ("encoder", "embed", "classify", "ner", "qa", "mlm", "pretrain")


@dataclass
class ModelDir:
    model: object
    tokenizer: object
    meta: dict
    path: str

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def labels(self) -> list[str] | None:
        return self.meta.get("labels")

    @property
    def seq_len(self) -> int:
        return self.meta["seq_len"]


def save_model_dir(path, model, tokenizer, task: str, seq_len: int, labels=None, family: str | None = None,
                   overwrite: bool = True, **meta) -> str:
    """Save `model` + `tokenizer` + metadata to `path` atomically; returns `path`."""
    import kbert
    from kbert.models import family_of

    if task not in TASKS:
        raise KbertInputError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise KbertInputError(f"{path} exists; pass overwrite=True to replace it")
    check_output_dir(path, flag="")  # only a kbert model directory is ever replaced, never a user's folder
    if family is None:
        encoder = getattr(model, "backbone", None) or _find_backbone(model)
        family = family_of(encoder) if encoder is not None else None
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=parent)
    try:
        model.save(os.path.join(tmp, MODEL_FILE))
        files = tokenizers.save(tokenizer, tmp) if tokenizer is not None else []
        record = {
            "kbert_version": kbert.__version__,
            "task": task,
            "family": family,
            "seq_len": int(seq_len),
            "labels": list(labels) if labels is not None else None,
            "tokenizer_files": files,
            **meta,
        }
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump(record, f, indent=2, default=str)
        publish_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _find_backbone(model):
    import keras_hub

    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    return None


def read_meta(path) -> dict:
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isfile(meta_path):
        raise KbertInputError(f"{path} is not a kbert model directory: {META_FILE} is missing")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KbertInputError(f"{meta_path} is not valid JSON: {e}") from e
    for key in ("task", "seq_len"):
        if key not in meta:
            raise KbertInputError(f"{meta_path} lacks {key!r}")
    return meta


def load_model_dir(path, compile: bool = False) -> ModelDir:
    """Load a directory written by `save_model_dir` (safe_mode on)."""
    import keras

    # Register kbert's serializable classes (backbones, task layers) so safe_mode finds them.
    import kbert.models  # noqa: F401
    import kbert.tasks.classifier  # noqa: F401
    import kbert.tasks.embedder  # noqa: F401
    import kbert.tasks.question_answerer  # noqa: F401
    import kbert.tasks.token_classifier  # noqa: F401

    path = os.fspath(path)
    meta = read_meta(path)
    model_path = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(model_path):
        raise KbertInputError(f"{path}: {MODEL_FILE} is missing")
    make_durable()  # a SentencePiece tokenizer inside the model survives keras.utils.set_random_seed
    try:
        model = keras.saving.load_model(model_path, compile=compile, safe_mode=True)
    except Exception as e:
        raise KbertInputError(f"{model_path} could not be loaded ({type(e).__name__}: {str(e)[:300]})") from e
    tokenizer = tokenizers.from_folder(path, meta.get("family") or "bert") if meta.get("tokenizer_files") else None
    return ModelDir(model, tokenizer, meta, path)
