"""Keras task model -> TFLite flatbuffer bytes, in five modes (no gate, no metadata, no files).

    >>> from kbert.export import tflite_convert
    >>> content = tflite_convert.convert(model, "dynamic-int8", "classify", seq_len=64)   # doctest: +SKIP

* **Modes.** `float32`; `float16` (weights in fp16); `dynamic-int8` (int8 weights, float activations;
  dense weights per channel for MediaPipe / LiteRT, per tensor for the Task Library 0.4.4, whose
  bundled runtime lacks the FULLY_CONNECTED v12 kernel); `int8` (full integer, activations calibrated
  on real text, float fallback only for ops without an int8 kernel); `mixed` (full integer except the
  ops that lose accuracy in int8 - softmax, layer norm pieces, GELU, embeddings - chosen with the
  converter's quantization debugger denylist).
* **Converter.** `TFLiteConverter.from_keras_model` (TF 2.21's only Keras/SavedModel converter; LiteRT
  has none), behind `tflite_converter`, the one place kbert builds one.
  `from_concrete_functions(..., trackable_obj)` silently drops the weights and outputs NaN.
* **Masked softmax, not `dot_product_attention`.** With dropout 0 (inference), Keras' attention calls
  `ops.dot_product_attention`, whose TF kernel ANDs the mask with `ones_like(scores)`: at a fixed
  shape the converter folds that into an all-true [1, heads, seq, seq] constant (196 KB at seq 128,
  1.8 MB at 384). `convert` traces the explicit masked-softmax path instead
  (`kbert._compat.attention.explicit_attention`): same numbers, no constant.
* **Built-in ops only** unless `allow_custom_ops=True` (the string-in variant's tf-text ops).
"""

from __future__ import annotations

import contextlib

from kbert._compat.attention import explicit_attention
from kbert.errors import KbertInputError
from kbert.export.tflite_spec import (DEFAULT_RUNTIME, check_mode, default_seq_len, infer_task, mobile_model,
                                      quantization)

__all__ = ["convert", "tflite_converter", "quiet_convert", "check_builtin_only", "explicit_attention",
           "INT8_MASK_FILL", "MIXED_FLOAT_OPS"]

# Ops kept in float by `mode="mixed"`: softmax, layer norm (MEAN/SQUARED_DIFFERENCE/RSQRT), GELU
# pieces and the embedding lookup. Names are TFLite builtin op names.
MIXED_FLOAT_OPS = ("SOFTMAX", "MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU", "TANH", "ERF", "POW",
                   "GATHER", "SUM", "L2_NORMALIZATION", "LOGISTIC", "DIV", "SQRT")
# Masked attention scores are filled with this value (instead of Keras' -1e9) in the int8 and mixed
# modes: an int8 tensor holding -1e9 gets a scale of ~4e6 per step and every real score rounds to the
# same value (uniform attention). exp(-60) ~ 1e-26, so float results do not change.
INT8_MASK_FILL = -60.0


def tflite_converter(wrapper, mode: str, representative=None, allow_custom_ops: bool = False,
                     per_channel: bool = False):
    """A configured `tf.lite.TFLiteConverter` for the Keras model `wrapper` (the only one kbert builds)."""
    import tensorflow as tf

    from kbert._compat.tflite import set_dense_per_channel

    check_mode(mode)
    conv = tf.lite.TFLiteConverter.from_keras_model(wrapper)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if allow_custom_ops:
        conv.allow_custom_ops = True
    if mode == "float32":
        return conv
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic-int8":
        set_dense_per_channel(conv, per_channel)
    else:  # int8, mixed
        if not representative:
            raise KbertInputError(f"mode {mode!r} needs a representative dataset of real inputs")
        order = [t.name.split(":")[0] for t in wrapper.inputs]

        def gen():
            for feed in representative:
                yield {k: feed[k] for k in order}

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return conv


def convert(model, mode: str = "float32", task: str | None = None, seq_len: int | None = None,
            representative=None, multi_label: bool = False, allow_custom_ops: bool = False,
            mixed_float_ops=MIXED_FLOAT_OPS, per_channel: bool | None = None,
            runtime: str = DEFAULT_RUNTIME) -> bytes:
    """Convert a Keras task model to TFLite flatbuffer bytes (no metadata, no gate).

    `per_channel` (dynamic-int8 only) defaults to what `runtime` loads (`tflite_spec.quantization`).
    """
    check_mode(mode)
    if per_channel is None:
        per_channel = quantization(mode, runtime) == "per-channel"
    task = task or infer_task(model)
    seq_len = int(seq_len or default_seq_len(task))
    import tensorflow as tf

    with explicit_attention(model, mask_fill=INT8_MASK_FILL if mode in ("int8", "mixed") else None):
        wrapper = mobile_model(model, task, seq_len, multi_label=multi_label)
        conv = tflite_converter(wrapper, mode, representative, allow_custom_ops, per_channel)
        if mode != "mixed":
            return quiet_convert(conv)
        order = [t.name.split(":")[0] for t in wrapper.inputs]

        def dataset():
            for feed in representative:
                yield [feed[k] for k in order]

        opts = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(mixed_float_ops),
                                                             fully_quantize=False)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=dataset,
                                                             debug_options=opts)
        return bytes(debugger.get_nondebug_quantized_model())


def quiet_convert(converter) -> bytes:
    """`converter.convert()` without the SavedModel signature listing Keras prints to stdout."""
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def check_builtin_only(content: bytes) -> list[str]:
    """Names of custom/Flex ops in a flatbuffer (empty when built-in only)."""
    from kbert.export.litert import op_codes

    return [name for name, _, custom in op_codes(content) if custom]
