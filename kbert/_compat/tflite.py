"""Private TFLite converter / interpreter APIs used by kbert's TFLite exporter and runtime checks.

* converter `_experimental_disable_per_channel_quantization_for_dense_layers` (TF 2.x): per-tensor
  dense weights in dynamic-int8, the kernels the Task Library 0.4.4 loads (`set_dense_per_channel`).
* interpreter `_get_full_signature_list()`: signature input/output names -> tensor indices
  (`signature_tensor_indices`).
* interpreter `_get_ops_details()`: the nodes after delegation, XNNPACK's `DELEGATE` nodes included
  (`ops_details`).
"""

from __future__ import annotations

KNOWN_TF = ((2, 13), (2, 21))
KNOWN_LITERT = ((1, 0), (2, 3))


def _version(module) -> tuple[int, int]:
    return tuple(int(p) for p in module.__version__.split(".")[:2])


def _require(name: str, have: tuple, known: tuple, what: str):
    from kbert.errors import KbertInputError

    if not known[0] <= have <= known[1]:
        raise KbertInputError(f"kbert's use of {what} is checked for {name} {known[0][0]}.{known[0][1]}-"
                              f"{known[1][0]}.{known[1][1]}, not {have[0]}.{have[1]}: extend kbert/_compat/tflite.py")


def set_dense_per_channel(converter, per_channel: bool) -> None:
    """Dynamic-int8 dense weights per output channel (True) or per tensor (False)."""
    import tensorflow as tf

    _require("TensorFlow", _version(tf), KNOWN_TF, "the converter's per-channel dense flag")
    flag = "_experimental_disable_per_channel_quantization_for_dense_layers"
    if not hasattr(converter, flag):
        from kbert.errors import KbertInputError

        raise KbertInputError(f"TensorFlow {tf.__version__}'s TFLiteConverter has no {flag}; extend kbert/_compat/tflite.py")
    setattr(converter, flag, not per_channel)


def _interpreter_version(interp) -> tuple[tuple, tuple, str]:
    module = type(interp).__module__
    if module.startswith("ai_edge_litert"):
        import ai_edge_litert

        return _version(ai_edge_litert), KNOWN_LITERT, "ai-edge-litert"
    import tensorflow as tf

    return _version(tf), KNOWN_TF, "TensorFlow"


def signature_tensor_indices(interp) -> dict:
    """{signature key: {"inputs": {name: tensor index}, "outputs": {name: tensor index}}}."""
    have, known, name = _interpreter_version(interp)
    _require(name, have, known, "Interpreter._get_full_signature_list")
    return interp._get_full_signature_list()


def ops_details(interp) -> list[dict]:
    """The interpreter's nodes ({"index", "op_name", "inputs", "outputs"}), delegate nodes included
    once `allocate_tensors()` has applied the default XNNPACK delegate."""
    have, known, name = _interpreter_version(interp)
    _require(name, have, known, "Interpreter._get_ops_details")
    return interp._get_ops_details()
