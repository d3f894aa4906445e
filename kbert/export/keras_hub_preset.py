"""Export a kbert encoder and its tokenizer as a keras-hub preset folder (keras-hub's `save_to_preset`
layout: config.json, model.weights.h5, tokenizer.json, assets/, metadata.json).

    kbert export keras-hub --model runs/sentiment --out presets/sentiment

    >>> import keras_hub, kbert.tokenizers    # registers kbert's classes with Keras  # doctest: +SKIP
    >>> backbone = keras_hub.models.Backbone.from_preset("presets/sentiment")      # doctest: +SKIP
    >>> tokenizer = keras_hub.tokenizers.Tokenizer.from_preset("presets/sentiment")  # doctest: +SKIP

The classes saved are kbert's (`kbert>BertBackbone` with the exact GELU of Hugging Face BERT,
`kbert>BertTokenizer` with Hugging Face's normalisation, ...), so `import kbert.tokenizers` (which
imports kbert's backbone modules too) before `from_preset` registers them with Keras (a bare `import
kbert` loads nothing yet); the backbone then computes exactly what it computed in kbert. A classifier whose head is a keras-hub task class's -- "pooled" pooling, single-label: BERT/ALBERT's
pooler -> dropout -> Dense (`BertTextClassifier`, `AlbertTextClassifier`), DistilBERT's first token ->
Dense+ReLU -> dropout -> Dense (`DistilBertTextClassifier`) -- is exported as that task (task.json, its
head's weights, the preprocessor at the trained length), so `keras_hub.models.TextClassifier.from_preset(dir)`
loads it with the same logits. keras-hub has no class for the other heads (mean or [CLS] pooling,
multi-label, token classification, QA): they get the backbone and tokenizer only, and
`task="classifier"` refuses them in one line naming why.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from kbert.errors import KbertInputError


def _check_out(out: str, overwrite: bool):
    if not os.path.exists(out) or (os.path.isdir(out) and not os.listdir(out)):
        return
    if not os.path.isfile(os.path.join(out, "metadata.json")) or not os.path.isfile(os.path.join(out, "config.json")):
        raise KbertInputError(f"--out {out} exists and is not a keras-hub preset; choose another folder")
    if not overwrite:
        raise KbertInputError(f"--out {out} holds a preset; pass --overwrite to replace it")


TASKS = ("auto", "backbone", "classifier")


def classifier_match(model, meta: dict, family: str):
    """Why `model`'s head has no keras-hub task class (None when it has one: pooled, single-label)."""
    task = meta.get("task")
    if task != "classify":
        return f"keras-hub {_version()} has no task class for a {task} head"
    names = {layer.name for layer in model.layers}
    pooling = meta.get("pooling") or ("mean" if "mean_pooling" in names else (
        "cls" if "cls_token" in names and "pre_classifier" not in names else "pooled"))
    if pooling != "pooled":
        return f"keras-hub's TextClassifier pools as kbert's \"pooled\" head; this classifier uses {pooling} pooling"
    if meta.get("multi_label"):
        return "keras-hub's TextClassifier is single-label (softmax); this classifier is multi-label"
    if family not in ("bert", "albert", "distilbert"):
        return f"no keras-hub TextClassifier for family {family!r}"
    return None


def _version():
    import keras_hub

    return keras_hub.__version__


def _text_classifier(model, meta, family, backbone, tokenizer):
    """keras-hub's TextClassifier for the family over `backbone`, with `model`'s head weights."""
    from kbert.models.keras_hub_tasks import TEXT_CLASSIFIERS

    task_cls, pre_cls = TEXT_CLASSIFIERS[family]
    logits = model.get_layer("logits")
    dropout = float(model.get_layer("classifier_dropout").rate)
    preprocessor = pre_cls(tokenizer=tokenizer, sequence_length=int(meta["seq_len"]))
    clf = task_cls(backbone=backbone, num_classes=int(logits.units), preprocessor=preprocessor, dropout=dropout)
    clf.output_dense.set_weights(logits.get_weights())
    if family == "distilbert":
        clf.pooled_dense.set_weights(model.get_layer("pre_classifier").get_weights())
    return clf


def export_keras_hub(model, out: str, overwrite: bool = False, task: str = "auto") -> dict:
    """Write `model` -- a kbert model directory or .keras file, a kbert task model, a HF checkpoint folder
    or Hub name -- as a keras-hub preset `out`, atomically: the keras-hub task class where its head
    matches one (`task="auto"`), else the encoder and tokenizer; `task="backbone"`: always the latter;
    `task="classifier"`: the task class or a `KbertInputError` saying why not.
    Returns {"path", "backbone", "tokenizer", "task" (class name or None), "note" (why no task, or None)}."""
    from kbert.atomic import publish_dir

    if task not in TASKS:
        raise KbertInputError(f"unknown keras-hub export task {task!r}; expected one of {', '.join(TASKS)}")
    out = os.fspath(out)
    _check_out(out, overwrite)
    head = meta = None
    if not isinstance(model, (str, os.PathLike)):  # an in-memory kbert task model
        from kbert.model_dir import _find_backbone

        head, tokenizer, meta = model, model.tokenizer, model.export_meta()
        backbone = getattr(model, "backbone", None) or _find_backbone(model)
    elif os.path.isfile(os.path.join(os.fspath(model), "kbert.json")) or os.fspath(model).endswith(".keras"):
        from kbert.model_dir import _find_backbone, load_model_dir

        md = load_model_dir(os.fspath(model))
        backbone = getattr(md.model, "backbone", None) or _find_backbone(md.model) or md.model
        head, tokenizer, meta = md.model, md.tokenizer, md.meta
    else:
        from kbert.checkpoints.hf import load_hf

        ck = load_hf(os.fspath(model))
        backbone, tokenizer = ck.backbone, ck.tokenizer
    clf, note = None, None
    if task != "backbone":
        from kbert.models import family_of

        if head is None or backbone is head:
            note = "an encoder without a task head"
        else:
            note = classifier_match(head, meta, family_of(backbone))
            if note is None and tokenizer is None:
                note = "the model has no tokenizer (a keras-hub task preset needs its preprocessor)"
        if note is None:
            clf = _text_classifier(head, meta, family_of(backbone), backbone, tokenizer)
        elif task == "classifier":
            raise KbertInputError(f"no keras-hub task class for this model: {note}; "
                                  "export its backbone and tokenizer with --task backbone")
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(out) + "-", dir=parent)
    try:
        if clf is not None:
            clf.save_to_preset(tmp)  # backbone, tokenizer, preprocessor and task head in one
        else:
            backbone.save_to_preset(tmp)
            if tokenizer is not None:
                tokenizer.save_to_preset(tmp)
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": out, "backbone": type(backbone).__name__,
            "tokenizer": type(tokenizer).__name__ if tokenizer is not None else None,
            "task": type(clf).__name__ if clf is not None else None, "note": None if task == "backbone" or head is None else note}
