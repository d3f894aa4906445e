"""Private Keras attention internals used by the TFLite exporter.

* `MultiHeadAttention._dropout`: a tiny positive rate selects the explicit einsum + masked-softmax
  path instead of `ops.dot_product_attention` (whose TF kernel folds an all-true [1, heads, seq, seq]
  mask constant into a fixed-shape TFLite graph; see `kbert.export.tflite_convert`).
* `keras.src.layers.activations.softmax._large_negative_number`: the value written at masked
  positions (a module global: `explicit_attention` holds a lock while it is replaced).
* `Layer._flatten_layers`: every attention layer inside a model, nested models included.
* `MultiHeadAttention._softmax`: float graphs trace its `call` as an additive mask. Keras' `Softmax`
  masks with `where(mask, x, -1e9)` and `where(mask, out, 0)`; each lowers to a broadcasting
  SELECT_V2 on [batch, heads, seq, seq], which XNNPACK does not take, so LiteRT runs both in its
  reference kernels between delegated partitions. `x + (1 - mask) * fill` and `out * mask` are
  ADD and MUL, which XNNPACK runs; the outputs match (a fully masked row is still all zeros).

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
    so the numbers do not change. With `mask_fill=None` (float graphs) the masked softmax is traced
    additively (see the module docstring); a `mask_fill` (int8 graphs, whose calibrated ranges were
    measured on the `where` form) replaces the value Keras' `Softmax` writes at masked positions
    instead (see `kbert.export.tflite_convert.INT8_MASK_FILL`).
    """
    check("keras", TOUCH)
    from keras.src.layers.activations import softmax as keras_softmax

    large_negative = require(keras_softmax, "_large_negative_number", "keras", TOUCH)
    with _LOCK:
        layers = attention_layers(model)
        changed = []
        for layer in layers:
            if not dropout_rate(layer):
                changed.append(layer)
                layer._dropout = 1e-9
        additive = []
        if mask_fill is not None:
            keras_softmax._large_negative_number = lambda dtype: mask_fill
        else:
            for layer in layers:
                softmax = require(layer, "_softmax", "keras", TOUCH)
                softmax.call = _additive_masked_call(softmax, large_negative)
                additive.append(softmax)
        try:
            yield model
        finally:
            keras_softmax._large_negative_number = large_negative
            for layer in changed:
                layer._dropout = 0.0
            for softmax in additive:
                del softmax.call  # back to the class's method


def _additive_masked_call(softmax, large_negative):
    """`softmax.call` with the mask applied as `x + (1 - mask) * fill` and `out * mask`."""
    from keras import ops

    unmasked = type(softmax).call.__get__(softmax)

    def call(inputs, mask=None):
        if mask is None:
            return unmasked(inputs)
        if ops.dtype(mask) != "bool":
            mask = ops.greater(mask, ops.cast(0.5, ops.dtype(mask)))
        keep = ops.cast(mask, inputs.dtype)
        outputs = unmasked(inputs + (1.0 - keep) * large_negative(inputs.dtype))
        return outputs * keep

    return call
