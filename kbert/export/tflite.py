"""Keras task model -> `.tflite` for phones, in five modes, verified before it is written.

    >>> from kbert.export import tflite
    >>> result = tflite.export("runs/clf", "clf.tflite", mode="dynamic-int8")   # doctest: +SKIP
    >>> result.card["accuracy"]["agreement"]                                     # doctest: +SKIP
    1.0

What a phone runtime needs, and what a naive conversion gets wrong (measured, see docs/tflite.md):

* **Fixed shapes, Task-Library names.** The model is wrapped in a functional model with inputs
  `ids`, `mask`, `segment_ids` of shape [1, seq_len] (int32): the Task Library and MediaPipe find
  them by these names (TFLite tensor names `serving_default_ids:0`, ...). Converted with
  `TFLiteConverter.from_keras_model` (`from_concrete_functions(..., trackable_obj)` silently drops
  the weights and outputs NaN).
* **Outputs.** classify -> `probability` (softmax, or sigmoid when multi-label: `BertNLClassifier`
  and MediaPipe `TextClassifier` read scores as they are); qa -> `start_logits`, `end_logits`;
  ner -> `logits`; embed/encoder -> `embeddings`. Always float32 (MediaPipe rejects int8 outputs).
* **Modes.**
  `float32`; `float16` (weights in fp16); `dynamic-int8` (int8 weights, float activations; per-tensor
  dense weights, because the per-channel FULLY_CONNECTED v12 kernel does not load in Task Library
  0.4.4); `int8` (full integer: activations calibrated on a representative dataset of real text,
  float fallback only for ops without an int8 kernel); `mixed` (full integer except the ops that
  lose accuracy in int8 - softmax, layer norm pieces, GELU, embeddings - which stay float, chosen
  with the converter's quantization debugger denylist).
* **Masked softmax, not `dot_product_attention`.** With dropout 0 (inference), Keras' attention calls
  `ops.dot_product_attention`, whose TF kernel ANDs the mask with `ones_like(scores)`: at a fixed
  shape the converter folds that into an all-true [1, heads, seq, seq] constant (196 KB at seq 128,
  1.8 MB at 384) and broadcasts the mask to full size at run time. `convert` traces the attention
  layers through their explicit masked-softmax path instead (`explicit_attention`): same numbers,
  no constant, so an ALBERT file stays below its parameter bytes.
* **Built-in ops only** unless `allow_custom_ops=True` (needed by the string-in variant's tf-text
  tokenizer ops, see `kbert.export.string_in`).

`export()` converts, runs the accuracy gate (`kbert.export.accuracy_gate`), adds the metadata
(`kbert.export.metadata`) and writes the file and its model card atomically: a temp file in the
target folder, renamed into place once complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile

from kbert.errors import KbertInputError

MODES = ("float32", "float16", "dynamic-int8", "int8", "mixed")
TASKS = ("encoder", "embed", "classify", "ner", "qa")
INPUT_NAMES = ("ids", "mask", "segment_ids")
DEFAULT_SEQ_LEN = {"qa": 384}
# Ops kept in float by `mode="mixed"`: softmax, layer norm (MEAN/SQUARED_DIFFERENCE/RSQRT), GELU
# pieces and the embedding lookup. Names are TFLite builtin op names.
MIXED_FLOAT_OPS = ("SOFTMAX", "MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU", "TANH", "ERF", "POW",
                   "GATHER", "SUM", "L2_NORMALIZATION", "LOGISTIC", "DIV", "SQRT")


def default_seq_len(task: str) -> int:
    return DEFAULT_SEQ_LEN.get(task, 128)


def _keras():
    import keras

    return keras


def output_names(task: str) -> tuple[str, ...]:
    return {"classify": ("probability",), "qa": ("end_logits", "start_logits"), "ner": ("logits",),
            "embed": ("embeddings",), "encoder": ("embeddings",)}[task]


def infer_task(model) -> str:
    """The task from a contract-conforming model's output names."""
    try:
        output = model.output
    except (AttributeError, ValueError):
        output = None
    names = set(output.keys()) if isinstance(output, dict) else set()
    if {"start_logits", "end_logits"} <= names:
        return "qa"
    if "embeddings" in names:
        return "embed"
    if "logits" in names:
        rank = len(model.output["logits"].shape)
        return "classify" if rank == 2 else "ner"
    raise KbertInputError(f"cannot tell the task of model {model.name!r} from its outputs {sorted(names)}; "
                          "pass task=")


def mobile_model(model, task: str, seq_len: int, multi_label: bool = False):
    """Wrap a task model (inputs token_ids/padding_mask[/segment_ids]) in a fixed-shape functional model
    with the Task Library's input names and the phone-facing outputs."""
    keras = _keras()
    if task not in TASKS:
        raise KbertInputError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    ins = {n: keras.Input(shape=(seq_len,), batch_size=1, dtype="int32", name=n) for n in INPUT_NAMES}
    try:
        model_input = model.input
    except (AttributeError, ValueError):
        model_input = None
    names = model_input.keys() if isinstance(model_input, dict) else None
    if names is None or not {"token_ids", "padding_mask"} <= set(names):
        raise KbertInputError(f"model {model.name!r} does not take the dict inputs token_ids/padding_mask"
                              f"[/segment_ids] of the task-model contract (it takes {names})")
    feed = {"token_ids": ins["ids"], "padding_mask": ins["mask"]}
    if "segment_ids" in names:
        feed["segment_ids"] = ins["segment_ids"]
    out = model(feed)
    if task == "encoder" and not isinstance(out, dict):
        out = {"sequence_output": out}
    if task == "classify":
        logits = out["logits"]
        probs = keras.ops.sigmoid(logits) if multi_label else keras.ops.softmax(logits, axis=-1)
        outputs = {"probability": probs}
    elif task == "qa":
        outputs = {"end_logits": out["end_logits"], "start_logits": out["start_logits"]}
    elif task == "ner":
        outputs = {"logits": out["logits"]}
    elif task == "embed":
        outputs = {"embeddings": out["embeddings"]}
    else:  # encoder: masked mean pooling of the sequence output
        from kbert.models import sequence_output

        seq = sequence_output(out)
        mask = keras.ops.cast(keras.ops.expand_dims(ins["mask"], -1), seq.dtype)
        outputs = {"embeddings": keras.ops.sum(seq * mask, 1) / keras.ops.maximum(keras.ops.sum(mask, 1), 1.0)}
    if "segment_ids" not in feed:
        # DistilBERT has no segment input, but the Task Library requires the tensor: keep it alive
        # with a zero-weight use so the converter does not prune it.
        first = next(iter(outputs))
        zero = keras.ops.cast(keras.ops.sum(ins["segment_ids"]), "float32") * 0.0
        outputs[first] = outputs[first] + zero
    return keras.Model(ins, outputs, name=f"{model.name}_mobile")


def representative_inputs(tokenizer, texts, seq_len: int, family: str = "bert", pairs=None) -> list[dict]:
    """Tokenize real text into a list of {ids, mask, segment_ids} int32 [1, seq_len] arrays."""
    from kbert.preprocessing import TextPreprocessor

    if tokenizer is None:
        raise KbertInputError("a tokenizer is needed to turn the representative/held-out text into inputs")
    pre = TextPreprocessor(tokenizer, seq_len=seq_len)
    batch = pre((list(pairs[0]), list(pairs[1]))) if pairs is not None else pre(list(texts))
    ids, mask, seg = (batch[k].numpy().astype("int32") for k in ("token_ids", "padding_mask", "segment_ids"))
    return [{"ids": ids[i:i + 1], "mask": mask[i:i + 1], "segment_ids": seg[i:i + 1]} for i in range(len(ids))]


# Masked attention scores are filled with this value (instead of Keras' -1e9) in the int8 and mixed
# modes: an int8 tensor holding -1e9 gets a scale of ~4e6 per step and every real score rounds to the
# same value (uniform attention). exp(-60) ~ 1e-26, so float results do not change.
INT8_MASK_FILL = -60.0


@contextlib.contextmanager
def explicit_attention(model, mask_fill: float | None = None):
    """Trace `model`'s Keras `MultiHeadAttention` layers through the explicit masked-softmax path.

    Keras (3.15) picks `ops.dot_product_attention` whenever the layer's dropout is 0; a tiny positive
    dropout rate selects the explicit einsum + masked `Softmax` path, and at inference (training=False)
    dropout is the identity, so the numbers do not change. `mask_fill` replaces the value Keras'
    `Softmax` writes at masked positions (see `INT8_MASK_FILL`). Restored on exit.
    """
    keras = _keras()
    from keras.src.layers.activations import softmax as keras_softmax

    changed = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.MultiHeadAttention) and not layer._dropout:
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


def _converter(wrapper, mode: str, representative=None, allow_custom_ops: bool = False, per_channel: bool = False):
    import tensorflow as tf

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
        conv._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel
    elif mode in ("int8", "mixed"):
        if not representative:
            raise KbertInputError(f"mode {mode!r} needs a representative dataset of real inputs")
        order = [t.name.split(":")[0] for t in wrapper.inputs]

        def gen():
            for feed in representative:
                yield {k: feed[k] for k in order}

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    else:
        raise KbertInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return conv


def convert(model, mode: str = "float32", task: str | None = None, seq_len: int | None = None,
            representative=None, multi_label: bool = False, allow_custom_ops: bool = False,
            mixed_float_ops=MIXED_FLOAT_OPS, per_channel: bool = False) -> bytes:
    """Convert a Keras task model to TFLite flatbuffer bytes (no metadata, no gate).

    `per_channel=True` (dynamic-int8 only) quantizes dense weights per output channel: ~10x closer to
    float on MiniLM, loads in MediaPipe / LiteRT, but NOT in Task Library 0.4.4 (FULLY_CONNECTED v12).
    """
    if mode not in MODES:
        raise KbertInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    task = task or infer_task(model)
    seq_len = int(seq_len or default_seq_len(task))
    import tensorflow as tf

    with explicit_attention(model, mask_fill=INT8_MASK_FILL if mode in ("int8", "mixed") else None):
        wrapper = mobile_model(model, task, seq_len, multi_label=multi_label)
        conv = _converter(wrapper, mode, representative, allow_custom_ops, per_channel)
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
    custom = []
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(content), 0))
    for code in m.operatorCodes:
        if code.customCode:
            custom.append(code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode)
    return custom


def atomic_write(path: str, data: bytes | str) -> str:
    """Write `data` to `path` through a temp file in the same folder and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, (bytes, bytearray)) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


@dataclasses.dataclass
class ExportResult:
    path: str | None
    content: bytes
    card: dict
    passed: bool


def export(model, out: str, mode: str = "float32", task: str | None = None, seq_len: int | None = None,
           tokenizer=None, labels=None, multi_label: bool = False, heldout=None, heldout_labels=None,
           representative=None, threshold: float = 1.0, force: bool = False, metadata: bool = True,
           allow_custom_ops: bool = False, latency_runs: int = 10, family: str | None = None,
           per_channel: bool = False, min_agreement: float = 0.9) -> ExportResult:
    """Convert, gate, add metadata, and write `out` plus `out`'s model card (`.md` / `.json`).

    `model` is a Keras task model or a kbert model directory. `heldout` / `representative` are lists
    of texts (or `(texts_a, texts_b)` pairs for QA); by default real text from kbert's assets.
    Raises `AccuracyGateError` (a `KbertInputError`) when the TFLite model loses more than
    `threshold` points of the task metric against the Keras model, unless `force`. A classifier must
    also give the Keras model's top label on at least `min_agreement` of the held-out inputs: with
    labels, flips in both directions can cancel in the accuracy (measured: a mixed-int8 MiniLM with
    78% agreement lost 0 points of accuracy on 64 tweets).
    """
    from kbert.export import accuracy_gate, model_card
    from kbert.export import metadata as md

    source = None
    meta = {}
    if isinstance(model, (str, os.PathLike)):
        from kbert.model_dir import load_model_dir

        d = load_model_dir(model)
        source, model, meta = os.fspath(d.path), d.model, d.meta
        tokenizer = tokenizer or d.tokenizer
        labels = labels or d.labels
        multi_label = multi_label or bool(meta.get("multi_label"))
        family = family or meta.get("family")
        if task is None and meta.get("task") in TASKS:
            task = meta["task"]
    if mode not in MODES:
        raise KbertInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    task = task or infer_task(model)
    if task not in TASKS:
        raise KbertInputError(f"task {task!r} cannot be exported to TFLite; expected one of {', '.join(TASKS)}")
    seq_len = int(seq_len or default_seq_len(task))
    if task == "qa" and seq_len != 384:
        import warnings

        warnings.warn(f"the Task Library's BertQuestionAnswerer expects seq_len 384, not {seq_len}", stacklevel=2)
    if task == "classify" and labels is None:
        n = int(model.output["logits"].shape[-1])
        labels = [f"label_{i}" for i in range(n)]
    heldout_inputs = accuracy_gate.default_inputs(tokenizer, task, seq_len, heldout, kind="heldout")
    rep_inputs = None
    if mode in ("int8", "mixed"):
        rep_inputs = accuracy_gate.default_inputs(tokenizer, task, seq_len, representative, kind="representative")
    content = convert(model, mode, task, seq_len, rep_inputs, multi_label, allow_custom_ops, per_channel=per_channel)
    if not allow_custom_ops:
        custom = check_builtin_only(content)
        if custom:
            raise KbertInputError(f"the converted model uses non-built-in ops {custom}; pass allow_custom_ops=True")
    wrapper = mobile_model(model, task, seq_len, multi_label=multi_label)
    report = accuracy_gate.compare(wrapper, content, heldout_inputs, task, labels=heldout_labels,
                                   latency_runs=latency_runs)
    passed = report["metric_drop_points"] <= threshold
    if task == "classify" and report.get("agreement", 1.0) < min_agreement:
        passed = False
        report["min_agreement"] = min_agreement
    if metadata and tokenizer is not None:
        content = md.add_metadata(content, task, tokenizer, labels=labels, seq_len=seq_len)
    card = model_card.build(out, content, mode=mode, task=task, seq_len=seq_len, labels=labels, report=report,
                            threshold=threshold, passed=passed, forced=force and not passed, source=source,
                            family=family or meta.get("family"))
    card["per_channel"] = per_channel
    if not passed and not force:
        raise accuracy_gate.AccuracyGateError(accuracy_gate.refusal_message(out, mode, report, threshold))
    atomic_write(out, content)
    model_card.write(out, card)
    return ExportResult(os.fspath(out), content, card, passed)
