"""Export a kbert encoder and its tokenizer as a keras-hub preset folder (keras-hub's `save_to_preset`
layout: config.json, model.weights.h5, tokenizer.json, assets/, metadata.json).

    kbert export keras-hub --model runs/sentiment --out presets/sentiment

    >>> import keras_hub, kbert.tokenizers    # registers kbert's classes with Keras  # doctest: +SKIP
    >>> backbone = keras_hub.models.Backbone.from_preset("presets/sentiment")      # doctest: +SKIP
    >>> tokenizer = keras_hub.tokenizers.Tokenizer.from_preset("presets/sentiment")  # doctest: +SKIP

The classes saved are kbert's (`kbert>BertBackbone` with the exact GELU of Hugging Face BERT,
`kbert>BertTokenizer` with Hugging Face's normalisation, ...), so `import kbert.tokenizers` (which
imports kbert's backbone modules too) before `from_preset` registers them with Keras (a bare `import
kbert` loads nothing yet); the backbone then computes exactly what it computed in kbert. A task head (classifier,
tagger, QA) is not part of a backbone preset: export it with `kbert export hf` or keep the model dir.
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


def export_keras_hub(model, out: str, overwrite: bool = False) -> dict:
    """Write the encoder (and tokenizer) of `model` -- a kbert model directory, a HF checkpoint folder or
    Hub name -- as a keras-hub preset `out`, atomically. Returns {"path", "backbone", "tokenizer"}."""
    from kbert.atomic import publish_dir

    out = os.fspath(out)
    _check_out(out, overwrite)
    model = os.fspath(model)
    if os.path.isfile(os.path.join(model, "kbert.json")):
        from kbert.model_dir import _find_backbone, load_model_dir

        md = load_model_dir(model)
        backbone = getattr(md.model, "backbone", None) or _find_backbone(md.model) or md.model
        tokenizer = md.tokenizer
    else:
        from kbert.checkpoints.hf import load_hf

        ck = load_hf(model)
        backbone, tokenizer = ck.backbone, ck.tokenizer
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(out) + "-", dir=parent)
    try:
        backbone.save_to_preset(tmp)
        if tokenizer is not None:
            tokenizer.save_to_preset(tmp)
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": out, "backbone": type(backbone).__name__,
            "tokenizer": type(tokenizer).__name__ if tokenizer is not None else None}
