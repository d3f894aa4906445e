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
from kbert.atomic import publish_dir
from kbert.errors import KbertInputError
from kbert.output_dir import check_output_dir

MODEL_FILE = "model.keras"
META_FILE = "kbert.json"
ENCODER_KINDS = ("encoder", "mlm", "pretrain")  # directories that hold an encoder, not a task model


def model_kinds() -> list[str]:
    """What a model directory's `task` may be: an encoder kind or a registered task (kbert.tasks.registry)."""
    from kbert.tasks import registry

    return list(ENCODER_KINDS) + registry.names()


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

    if task not in model_kinds():
        raise KbertInputError(f"unknown task {task!r}; expected one of {', '.join(model_kinds())}")
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
    from kbert.tasks.sources import find_backbone

    return find_backbone(model)


def read_meta(path) -> dict:
    """The settings of a model directory (kbert.json) or of a saved task model file (`.keras`: read
    from the model's own config, without TensorFlow)."""
    path = os.fspath(path)
    if os.path.isfile(path) and path.endswith(".keras"):
        return keras_file_meta(path)
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isfile(meta_path):
        raise KbertInputError(f"{path} is not a kbert model directory: {META_FILE} is missing")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KbertInputError(f"{meta_path} is not valid JSON: {e}") from e
    if not isinstance(meta, dict):
        raise KbertInputError(f"{meta_path} must hold a JSON object")
    for key in ("task", "seq_len"):
        if key not in meta:
            raise KbertInputError(f"{meta_path} lacks {key!r}")
    if meta["task"] not in model_kinds():
        raise KbertInputError(f"{meta_path}: unknown task {meta['task']!r}; expected one of "
                              f"{', '.join(model_kinds())}")
    seq_len = meta["seq_len"]
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 3:
        raise KbertInputError(f"{meta_path}: seq_len must be an integer >= 3, got {seq_len!r}")
    labels = meta.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
                               or len(set(labels)) != len(labels)):
        raise KbertInputError(f"{meta_path}: labels must be a list of distinct strings, got {labels!r}")
    return meta


def _check_label_count(path, meta, model):
    """kbert.json's labels must match the model's output width (one logit per label)."""
    if meta["task"] not in ("classify", "ner"):
        return
    if not meta.get("labels"):
        raise KbertInputError(f"{os.path.join(path, META_FILE)}: a {meta['task']} model needs its 'labels'")
    outputs = getattr(model, "output", None)
    logits = outputs.get("logits") if isinstance(outputs, dict) else None
    width = getattr(logits, "shape", [None])[-1] if logits is not None else None
    if width is not None and int(width) != len(meta["labels"]):
        raise KbertInputError(f"{os.path.join(path, META_FILE)} lists {len(meta['labels'])} labels but the model "
                              f"has {int(width)} outputs")


def keras_file_meta(path) -> dict:
    """Task, family, seq_len, labels and the task's settings from a task model's `.keras` config."""
    from kbert.tasks.sources import saved_config

    record = saved_config(path)
    config = record.get("config") or {}
    if not isinstance(config, dict) or "task" not in config or "backbone" not in config:
        raise KbertInputError(f"{path} holds a {record.get('class_name')}, not a kbert task model "
                              "(save one with kbert.TextClassifier(...).save(PATH.keras))")
    meta = {k: v for k, v in config.items() if k not in ("backbone", "preprocessor", "name", "trainable")}
    if meta.get("task") == "classify" and not meta.get("labels") and meta.get("num_classes"):
        meta["labels"] = [f"label_{i}" for i in range(int(meta["num_classes"]))]
    return meta


def load_model_dir(path, compile: bool = False) -> ModelDir:
    """Load a directory written by `save_model_dir`, or a task model's `.keras` file (safe_mode on).

    For a task model (`kbert.TextClassifier` etc.) the settings come from the model itself
    (`export_meta()`), over kbert.json's."""
    import kbert.tasks.registry  # noqa: F401  (registers kbert's task models and layers for safe_mode)
    from kbert.tasks import sources

    path = os.fspath(path)
    if os.path.isfile(path) and path.endswith(".keras"):
        model = sources.load_keras_file(path, compile=compile)
        if not callable(getattr(model, "export_meta", None)):
            raise KbertInputError(f"{path} holds a {type(model).__name__}, not a kbert task model; save a task model "
                                  "(kbert.TextClassifier, ...) or give a kbert model directory")
        return ModelDir(model, model.tokenizer, model.export_meta(), path)
    if os.path.isfile(path):
        raise KbertInputError(f"{path}: expected a kbert model directory or a task model's .keras file")
    meta = read_meta(path)
    model_path = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(model_path):
        raise KbertInputError(f"{path}: {MODEL_FILE} is missing")
    model = sources.load_keras_file(model_path, compile=compile)
    if callable(getattr(model, "export_meta", None)):
        meta = {**meta, **model.export_meta()}
        tokenizer = model.tokenizer
    else:
        _check_label_count(path, meta, model)
        tokenizer = tokenizers.from_folder(path, meta.get("family") or "bert") if meta.get("tokenizer_files") else None
    return ModelDir(model, tokenizer, meta, path)
