"""Private TFLite converter / interpreter APIs used by kbert's TFLite exporter and runtime checks.

* converter `_experimental_disable_per_channel_quantization_for_dense_layers` (TensorFlow): per-tensor
  dense weights in dynamic-int8, the kernels the Task Library 0.4.4 loads (`set_dense_per_channel`).
* interpreter `_get_full_signature_list()` (ai-edge-litert): signature input/output names -> tensor
  indices (`signature_tensor_indices`).
* interpreter `_get_ops_details()` (ai-edge-litert): the nodes after delegation, XNNPACK's `DELEGATE`
  nodes included (`ops_details`).
"""

from __future__ import annotations

from kbert._compat import check, require

PER_CHANNEL_FLAG = "_experimental_disable_per_channel_quantization_for_dense_layers"


def set_dense_per_channel(converter, per_channel: bool) -> None:
    """Dynamic-int8 dense weights per output channel (True) or per tensor (False)."""
    touch = "choosing per-channel / per-tensor dense weights in the TFLite converter"
    require(converter, PER_CHANNEL_FLAG, "tensorflow", touch)
    setattr(converter, PER_CHANNEL_FLAG, not per_channel)


def _package(interp) -> str:
    return "ai-edge-litert" if type(interp).__module__.startswith("ai_edge_litert") else "tensorflow"


def signature_tensor_indices(interp) -> dict:
    """{signature key: {"inputs": {name: tensor index}, "outputs": {name: tensor index}}}."""
    touch = "reading a .tflite's signature tensor indices (metadata writer)"
    return require(interp, "_get_full_signature_list", _package(interp), touch)()


def ops_details(interp) -> list[dict]:
    """The interpreter's nodes ({"index", "op_name", "inputs", "outputs"}), delegate nodes included
    once `allocate_tensors()` has applied the default XNNPACK delegate."""
    touch = "listing a .tflite's nodes after delegation (XNNPACK share on the model card)"
    return require(interp, "_get_ops_details", _package(interp), touch)()


def interpreter_with_custom_ops(content: bytes, registerers, num_threads=None):
    """TensorFlow's TFLite interpreter for `content` with `registerers` (e.g. tf-text's
    `tflite_registrar.SELECT_TFTEXT_OPS`) added to its op resolver."""
    touch = "running a .tflite with tf-text's string ops (TF's InterpreterWithCustomOps)"
    check("tensorflow", touch)
    from tensorflow.lite.python import interpreter

    cls = require(interpreter, "InterpreterWithCustomOps", "tensorflow", touch)
    return cls(model_content=content, custom_op_registerers=registerers, num_threads=num_threads)
