"""Private Keras attention internals used by the TFLite exporter (Keras 3.x).

* `MultiHeadAttention._dropout`: a tiny positive rate selects the explicit einsum + masked-softmax
  path instead of `ops.dot_product_attention` (whose TF kernel folds an all-true [1, heads, seq, seq]
  mask constant into a fixed-shape TFLite graph; see `kbert.export.tflite_convert`).
* `keras.src.layers.activations.softmax._large_negative_number`: the value written at masked
  positions (a module global: `explicit_attention` holds a lock while it is replaced).

    >>> from kbert._compat.attention import explicit_attention
    >>> with explicit_attention(model, mask_fill=-60.0):      # doctest: +SKIP
    ...     content = convert(model)
"""

from __future__ import annotations

import contextlib
import threading

# Keras versions whose attention / softmax internals were read and tested (tests/test_compat.py).
KNOWN_KERAS = ((3, 0), (3, 15))
_LOCK = threading.RLock()


def _check_keras():
    import keras

    from kbert.errors import KbertInputError

    major_minor = tuple(int(p) for p in keras.__version__.split(".")[:2])
    if not KNOWN_KERAS[0] <= major_minor <= KNOWN_KERAS[1]:
        raise KbertInputError(
            f"kbert's TFLite attention tracing knows Keras {KNOWN_KERAS[0][0]}.{KNOWN_KERAS[0][1]}-"
            f"{KNOWN_KERAS[1][0]}.{KNOWN_KERAS[1][1]}, not {keras.__version__}: check MultiHeadAttention._dropout and "
            "keras.src.layers.activations.softmax._large_negative_number, then extend kbert/_compat/attention.py")
    from keras.src.layers.activations import softmax as keras_softmax

    if not callable(getattr(keras_softmax, "_large_negative_number", None)):
        raise KbertInputError(f"Keras {keras.__version__} has no softmax._large_negative_number; "
                              "extend kbert/_compat/attention.py")
    return keras, keras_softmax


def attention_layers(model) -> list:
    """Every Keras `MultiHeadAttention` layer inside `model` (recursively)."""
    import keras

    return [la for la in model._flatten_layers(include_self=True, recursive=True)
            if isinstance(la, keras.layers.MultiHeadAttention)]


def dropout_rate(layer) -> float:
    """The attention dropout rate of a Keras `MultiHeadAttention` layer."""
    return float(layer._dropout)


@contextlib.contextmanager
def explicit_attention(model, mask_fill: float | None = None):
    """Trace `model`'s attention layers through the explicit masked-softmax path; restored on exit.

    Keras picks `ops.dot_product_attention` whenever a layer's dropout is 0; a 1e-9 dropout selects
    the einsum + masked `Softmax` path, and at inference (training=False) dropout is the identity,
    so the numbers do not change. `mask_fill` replaces the value Keras' `Softmax` writes at masked
    positions (see `kbert.export.tflite_convert.INT8_MASK_FILL`).
    """
    _, keras_softmax = _check_keras()
    with _LOCK:
        changed = []
        for layer in attention_layers(model):
            if not layer._dropout:
                changed.append(layer)
                layer._dropout = 1e-9
        large_negative = keras_softmax._large_negative_number
        if mask_fill is not None:
            keras_softmax._large_negative_number = lambda dtype: mask_fill
        try:
            yield model
        finally:
            keras_softmax._large_negative_number = large_negative
            for layer in changed:
                layer._dropout = 0.0
