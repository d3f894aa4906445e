"""Initialise a shallower student from its teacher (the DistilBERT recipe).

- token and position embeddings and the embedding LayerNorm are copied;
- token-type (segment) embeddings: a BERT student copies them; a DistilBERT student has none, so
  they are dropped (the recipe) or, with `fold_segments=True` (default), row 0 is added to the
  position embeddings, so single-segment inputs embed exactly as in the teacher;
- transformer layers: `every_other_layer(N, M)` of the teacher's N layers, evenly spaced from the
  first to the last: round-half-up(i * (N - 1) / (M - 1)) for i in 0..M-1 (M = 1: layer 0).
  12 -> 6 gives 0, 2, 4, 7, 9, 11 (the DistilBERT recipe); 6 -> 3 gives 0, 3, 5; 4 -> 2 gives 0, 3;
- the pooler is copied when both have one; for task models, head layers with the same name and
  shapes (`logits`, `pre_classifier`, ...) are copied too.

    >>> import kbert
    >>> teacher = kbert.models.backbone("bert_small")                # 4 layers
    >>> student = student_like(teacher, num_layers=2, family="distilbert")
    >>> init_student(teacher, student)
    [0, 3]
"""

from __future__ import annotations

import numpy as np

from kbert.errors import KbertInputError


def every_other_layer(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layer indices a student of `student_layers` layers is initialised from."""
    if not 1 <= student_layers <= teacher_layers:
        raise KbertInputError(f"a student needs 1..{teacher_layers} layers (the teacher's depth), "
                              f"got {student_layers}")
    if student_layers == 1:
        return [0]
    step = (teacher_layers - 1) / (student_layers - 1)
    return [int(np.floor(i * step + 0.5)) for i in range(student_layers)]


def _embeddings(backbone):
    """(token, position, segment or None) embedding layers of a keras-hub backbone."""
    from kbert.models import family_of

    family = family_of(backbone)
    if family == "distilbert":
        return backbone.embeddings.token_embedding, backbone.embeddings.position_embedding, None
    if family == "albert":
        raise KbertInputError("student initialisation supports BERT / DistilBERT encoders, not ALBERT "
                              "(ALBERT shares one layer; distil it from a random student instead)")
    return backbone.token_embedding, backbone.position_embedding, backbone.segment_embedding


def student_like(teacher, num_layers: int, family: str | None = None, dtype=None, **overrides):
    """A random encoder with the teacher's widths and `num_layers` layers (`family`: "bert" or
    "distilbert"; default the teacher's), ready for `init_student`."""
    from kbert.models import build_backbone, family_of
    from kbert.training.distiller import find_backbone

    teacher = find_backbone(teacher)
    family = family or family_of(teacher)
    config = {k: getattr(teacher, k) for k in ("vocabulary_size", "num_heads", "hidden_dim", "intermediate_dim",
                                               "dropout", "max_sequence_length")}
    if family == "bert":
        config["num_segments"] = getattr(teacher, "num_segments", 2)
        config["hidden_activation"] = getattr(teacher, "hidden_activation", "gelu")
    every_other_layer(teacher.num_layers, num_layers)  # validates the depth
    return build_backbone(family, {**config, "num_layers": num_layers, **overrides}, dtype=dtype)


def init_student(teacher, student, layers=None, fold_segments: bool = True) -> list[int]:
    """Copy the teacher's weights into `student` in place; returns the teacher layers used.

    `teacher`, `student`: encoders, or task models around them (then same-name head layers with
    equal shapes are copied too). `layers`: teacher layer index for each student layer (default
    `every_other_layer`). Widths (hidden, intermediate, heads) must match.
    """
    from kbert.training.distiller import find_backbone

    t, s = find_backbone(teacher), find_backbone(student)
    for attr in ("hidden_dim", "intermediate_dim", "num_heads", "vocabulary_size"):
        if getattr(t, attr) != getattr(s, attr):
            raise KbertInputError(f"student {attr} {getattr(s, attr)} != teacher {attr} {getattr(t, attr)}: "
                                  "initialisation copies weights, so widths and vocabulary must match")
    layers = list(layers) if layers is not None else every_other_layer(len(t.transformer_layers),
                                                                       len(s.transformer_layers))
    if len(layers) != len(s.transformer_layers) or any(not 0 <= i < len(t.transformer_layers) for i in layers):
        raise KbertInputError(f"layers {layers} must name {len(s.transformer_layers)} teacher layers "
                              f"in 0..{len(t.transformer_layers) - 1}")

    t_tok, t_pos, t_seg = _embeddings(t)
    s_tok, s_pos, s_seg = _embeddings(s)
    s_tok.set_weights(t_tok.get_weights())
    pos = t_pos.get_weights()[0]
    n = s_pos.get_weights()[0].shape[0]
    if n > pos.shape[0]:
        raise KbertInputError(f"student max_sequence_length {n} exceeds the teacher's {pos.shape[0]}")
    pos = pos[:n].copy()
    if s_seg is not None and t_seg is not None:
        s_seg.set_weights(t_seg.get_weights())
    elif t_seg is not None and fold_segments:
        pos += t_seg.get_weights()[0][0]
    s_pos.set_weights([pos])
    s.embeddings_layer_norm.set_weights(t.embeddings_layer_norm.get_weights())
    for s_layer, i in zip(s.transformer_layers, layers):
        s_layer.set_weights(t.transformer_layers[i].get_weights())
    if hasattr(s, "pooled_dense") and hasattr(t, "pooled_dense"):
        s.pooled_dense.set_weights(t.pooled_dense.get_weights())

    if teacher is not t and student is not s:  # task heads
        t_layers = {layer.name: layer for layer in teacher.layers if layer is not t}
        for layer in student.layers:
            other = t_layers.get(layer.name)
            if layer is s or other is None or not layer.weights:
                continue
            if [w.shape for w in layer.get_weights()] == [w.shape for w in other.get_weights()]:
                layer.set_weights(other.get_weights())
    return layers
