"""The model zoo: build encoders by preset name or load them from checkpoints.

    >>> import kbert
    >>> encoder = kbert.models.backbone("bert_tiny")
    >>> kbert.models.param_count("bert_base")
    109482240

`backbone(name)` returns a functional keras-hub backbone (`BertBackbone`,
`DistilBertBackbone` or `AlbertBackbone`) with random weights; `from_pretrained(path)` loads a
real checkpoint folder (Hugging Face format or a kbert model directory).
"""

from __future__ import annotations

import numpy as np

from kbert.errors import KbertInputError
from kbert.models.build import FAMILY_MODULES, build_backbone  # noqa: F401 (public here)
from kbert.presets import Preset, count_params, get_preset


def _resolve(preset: str | Preset) -> Preset:
    return preset if isinstance(preset, Preset) else get_preset(preset)


def backbone(preset: str | Preset, dtype=None, **overrides):
    """A randomly initialised encoder for preset `preset` (overrides change config fields).

    `backbone("bert_tiny", dropout=0.0)` builds BERT-tiny without dropout.
    """
    p = _resolve(preset)
    return build_backbone(p.family, {**p.config, **overrides}, dtype=dtype)


def param_count(preset: str | Preset, **overrides) -> int:
    """Exact parameter count computed from shapes, without allocating any weights."""
    p = _resolve(preset)
    return count_params(p.family, {**p.config, **overrides})


def family_of(model) -> str:
    """"bert", "distilbert" or "albert" for a keras-hub backbone."""
    import keras_hub

    for family, cls in (
        ("distilbert", keras_hub.models.DistilBertBackbone),
        ("albert", keras_hub.models.AlbertBackbone),
        ("bert", keras_hub.models.BertBackbone),
    ):
        if isinstance(model, cls):
            return family
    raise KbertInputError(f"not a BERT, DistilBERT or ALBERT encoder: {type(model).__name__}")


def sequence_output(outputs):
    """The [batch, seq, hidden] tensor from any family's backbone outputs."""
    return outputs["sequence_output"] if isinstance(outputs, dict) else outputs


def dummy_inputs(model, batch_size: int = 2, seq_len: int = 16, seed: int = 0) -> dict:
    """Random valid inputs for `model` (token ids in vocabulary, last positions padded)."""
    rng = np.random.default_rng(seed)
    vocab = model.vocabulary_size
    ids = rng.integers(1, vocab, size=(batch_size, seq_len)).astype("int32")
    mask = np.ones((batch_size, seq_len), "int32")
    mask[1:, seq_len // 2 :] = 0
    ids = ids * mask
    inputs = {"token_ids": ids, "padding_mask": mask}
    if family_of(model) != "distilbert":
        inputs["segment_ids"] = np.zeros_like(ids)
    return inputs


def from_pretrained(path, **kwargs):
    """Load an encoder and its tokenizer from a checkpoint folder or a Hugging Face Hub name
    (`"bert-base-uncased"`, `"hf://owner/name"`): returns (backbone, tokenizer)."""
    from kbert.checkpoints.hf import load_hf

    ckpt = load_hf(path, **kwargs)
    return ckpt.backbone, ckpt.tokenizer
