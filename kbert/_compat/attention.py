"""Private Keras attention internals used by the TFLite exporter.

* `MultiHeadAttention._dropout`: a tiny positive rate selects the explicit einsum + masked-softmax
  path instead of `ops.dot_product_attention` (whose TF kernel folds an all-true [1, heads, seq, seq]
  mask constant into a fixed-shape TFLite graph; see `kbert.export.tflite_convert`).
* `keras.src.layers.activations.softmax._large_negative_number`: the value written at masked
  positions (a module global: `explicit_attention` holds a lock while it is replaced).
* `Layer._flatten_layers`: every attention layer inside a model, nested models included.

    >>> from kbert._compat.attention import explicit_attention
    >>> with explicit_attention(model, mask_fill=-60.0):      # doctest: +SKIP
    ...     content = convert(model)
"""

from __future__ import annotations

import contextlib
import threading

from kbert._compat import check, require

TOUCH = "tracing attention through the explicit masked softmax (TFLite export)"
_LOCK = threading.RLock()


def attention_layers(model) -> list:
    """Every Keras `MultiHeadAttention` layer inside `model` (recursively)."""
    import keras

    flatten = require(model, "_flatten_layers", "keras", TOUCH)
    return [la for la in flatten(include_self=True, recursive=True) if isinstance(la, keras.layers.MultiHeadAttention)]


def dropout_rate(layer) -> float:
    """The attention dropout rate of a Keras `MultiHeadAttention` layer."""
    return float(require(layer, "_dropout", "keras", TOUCH))


@contextlib.contextmanager
def explicit_attention(model, mask_fill: float | None = None):
    """Trace `model`'s attention layers through the explicit masked-softmax path; restored on exit.

    Keras picks `ops.dot_product_attention` whenever a layer's dropout is 0; a 1e-9 dropout selects
    the einsum + masked `Softmax` path, and at inference (training=False) dropout is the identity,
    so the numbers do not change. `mask_fill` replaces the value Keras' `Softmax` writes at masked
    positions (see `kbert.export.tflite_convert.INT8_MASK_FILL`).
    """
    check("keras", TOUCH)
    from keras.src.layers.activations import softmax as keras_softmax

    large_negative = require(keras_softmax, "_large_negative_number", "keras", TOUCH)
    with _LOCK:
        changed = []
        for layer in attention_layers(model):
            if not dropout_rate(layer):
                changed.append(layer)
                layer._dropout = 1e-9
        if mask_fill is not None:
            keras_softmax._large_negative_number = lambda dtype: mask_fill
        try:
            yield model
        finally:
            keras_softmax._large_negative_number = large_negative
            for layer in changed:
                layer._dropout = 0.0
