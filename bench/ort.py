"""ONNX Runtime, the way a Hugging Face user runs BERT on CPU: export, graph optimizations, dynamic int8.

Shared by bench/encoder_latency.py, bench/tflite_modes.py and bench/dynamic_padding.py (a helper without a main block:
not a bench script). Needs the bench extra: `pip install -e .[bench]` (onnxruntime, onnx, onnxscript).

    sessions = ort_sessions(torch_model, workdir, threads=2)   # {"ort_fp32": ..., "ort_int8": ...}
    run = feed_fn(sessions["ort_fp32"], ids, mask)             # -> callable returning the last hidden state

`ort_fp32`: `torch.onnx.export` (TorchScript exporter, dynamic batch and sequence axes) then
`onnxruntime.transformers.optimizer.optimize_model(model_type=...)` (attention / GELU / layer-norm
fusions). `ort_int8`: `onnxruntime.quantization.quantize_dynamic` (int8 weights, QInt8) of the
optimized graph. Sessions use `intra_op_num_threads=threads`, `inter_op_num_threads=1`.
"""

from __future__ import annotations

import os

MODEL_TYPES = {"bert": "bert", "distilbert": "bert", "albert": "bert"}


def available() -> str | None:
    """None when onnxruntime + onnx import, else the reason (a one-line message naming the pip install)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return f"{e}; install the bench extra: pip install -e .[bench]"
    return None


def export(torch_model, path: str, seq: int = 16) -> list[str]:
    """Export a `transformers` encoder (or *ForSequenceClassification) to ONNX; returns its input names."""
    import torch

    names = ["input_ids", "attention_mask"]
    if getattr(torch_model.config, "type_vocab_size", 0) and torch_model.config.model_type != "distilbert":
        names.append("token_type_ids")
    classify = hasattr(torch_model, "classifier")

    class Wrapped(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            out = self.model(**dict(zip(names, inputs)))
            return out.logits if classify else out.last_hidden_state

    example = tuple(torch.ones(2, seq, dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["output"] = {0: "batch"} if classify else {0: "batch", 1: "seq"}
    torch.onnx.export(Wrapped(torch_model).eval(), example, path, input_names=names, output_names=["output"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    torch_model.eval()  # the exporter may leave the module in training mode (dropout on)
    return names


def ort_sessions(torch_model, workdir: str, threads: int = 2, int8: bool = True, profile: bool = False) -> dict:
    """{"ort_fp32": session[, "ort_int8": session]} for `torch_model` (files written under `workdir`).

    `profile`: sessions with ONNX Runtime's profiler on (per-node times, JSON under `workdir`; `node_times`)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    os.makedirs(workdir, exist_ok=True)
    raw, opt, q8 = (os.path.join(workdir, n) for n in ("model.onnx", "model_opt.onnx", "model_int8.onnx"))
    export(torch_model, raw)
    cfg = torch_model.config
    heads = getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_heads")
    hidden = getattr(cfg, "hidden_size", None) or getattr(cfg, "dim")
    optimized = optimizer.optimize_model(raw, model_type=MODEL_TYPES.get(cfg.model_type, "bert"), num_heads=heads,
                                         hidden_size=hidden)
    optimized.save_model_to_file(opt)
    paths = {"ort_fp32": opt}
    if int8:
        quantize_dynamic(opt, q8, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fused ops have no inferred type
        paths["ort_int8"] = q8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(workdir, "ort_profile")
    return {k: ort.InferenceSession(p, options, providers=["CPUExecutionProvider"]) for k, p in paths.items()}


def feed_fn(session, ids, mask, segments=None):
    """A no-argument callable running `session` on int arrays [batch, seq]; returns its first output."""
    import numpy as np

    names = [i.name for i in session.get_inputs()]
    feed = {"input_ids": np.asarray(ids, "int64"), "attention_mask": np.asarray(mask, "int64")}
    if "token_type_ids" in names:
        feed["token_type_ids"] = np.zeros_like(feed["input_ids"]) if segments is None else np.asarray(segments, "int64")
    feed = {k: v for k, v in feed.items() if k in names}
    return lambda: session.run(None, feed)[0]


def node_times(session, skip_runs: int = 1) -> tuple[dict, int]:
    """({op type: total kernel microseconds}, runs) from a profiling session's trace (ends its profiling),
    leaving out the first `skip_runs` runs (warm-up)."""
    import json

    with open(session.end_profiling()) as f:
        events = json.load(f)
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    start = runs[skip_runs] if len(runs) > skip_runs else float("inf")
    out = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= start:
            op = e.get("args", {}).get("op_name", "?")
            out[op] = out.get(op, 0) + e["dur"]
    return out, max(len(runs) - skip_runs, 0)
