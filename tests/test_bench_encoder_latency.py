"""bench/encoder_latency.py's profile of a missed target: XLA's per-thunk op times read back from a TF profiler
trace, and the note that splits each side's latency into matrix multiplies and the rest."""

import re

from bench import encoder_latency
from bench.common import render, script_templates


def test_thunk_times_are_the_hlo_ops_of_a_traced_jit_function(jit_trace):
    ops = encoder_latency.thunk_times(jit_trace)
    assert any(encoder_latency.KBERT_MATMUL.search(k) for k in ops), ops
    # families only (no `.N` suffix), no runtime events and no waits
    assert all(not re.search(r"\.\d+$", k) and ":" not in k and k not in encoder_latency.XLA_WAITS for k in ops), ops
    assert all(v >= 0 for v in ops.values()) and sum(ops.values()) > 0


def test_profile_note_splits_latency_by_op_share_and_names_the_larger_gap():
    row = {"recommended": "xla", "xla_ms": 100.0, "ort_fp32_ms": 80.0,
           "profile": {"calls": 3, "variant": "xla", "kbert_op_ms": {"dot": 30.0, "MatMul": 30.0, "add_fusion": 40.0},
                       "ort_op_ms": {"MatMul": 60.0, "Attention": 15.0, "SkipLayerNormalization": 25.0}}}
    part = encoder_latency.profile_note("bert_base", 32, row)
    text = render([part], script_templates(encoder_latency.__file__))
    # XLA: 60% matmul of 100 ms; ORT: 75% of 80 ms -> matmul 60 vs 60, rest 40 vs 20: the rest is the gap
    assert "~60.0 of xla's 100.0 ms (60%)" in text and "~60.0 of ORT's 80.0 ms (75%" in text
    assert "the rest ~40.0 vs ~20.0 ms: the ops other than matrix multiplies make up most" in text
    assert "xla add_fusion 40%, dot 30%, MatMul 30%" in text


def test_graph_op_times_are_the_tf_ops_of_a_traced_graph_function(graph_trace):
    """A tf.function without XLA: TF's executor runs each op as a "node:OpType" event; families are op types."""
    ops = encoder_latency.graph_op_times(graph_trace)
    assert any(encoder_latency.KBERT_MATMUL.search(k) for k in ops), ops
    assert "Relu" in ops and ":" not in "".join(ops), ops
    assert all(v >= 0 for v in ops.values()) and sum(ops.values()) > 0
    # the XLA reader finds no thunks in it
    assert encoder_latency.thunk_times(graph_trace) == {}


def test_recommended_variant_is_the_fastest_measured_float_path():
    rec = encoder_latency.recommended_variant
    assert rec({"xla_ms": 10.0, "tf_function_ms": 8.0, "tflite_fp32_ms": 9.0, "predict_ms": 1.0}) == "tf_function"
    assert rec({"xla_ms": 10.0, "tflite_fp32_ms": 9.0}) == "tflite_fp32"
    assert rec({"xla_ms": 10.0, "tf_function_ms": None}) == "xla"
    assert rec({}) == "xla"
    assert rec({"xla_ms": 10.0, "tflite_fp32_ms": 9.0, "tflite_fp32_compiled_ms": 8.5}) == "tflite_fp32_compiled"
    # a bfloat16 path only while its outputs stay within BF16_MAX_DIFF of torch's float32 ones
    close, far = encoder_latency.BF16_MAX_DIFF / 2, encoder_latency.BF16_MAX_DIFF * 2
    assert rec({"xla_ms": 10.0, "tf_function_bf16_ms": 6.0, "tf_function_bf16_maxdiff": close}) == "tf_function_bf16"
    assert rec({"xla_ms": 10.0, "tf_function_bf16_ms": 6.0, "tf_function_bf16_maxdiff": far}) == "xla"
    assert rec({"xla_ms": 10.0, "xla_bf16_ms": 6.0}) == "xla"  # no measured diff: not recommended


def test_profile_note_names_the_profiled_variant():
    row = {"recommended": "tf_function", "tf_function_ms": 50.0, "ort_fp32_ms": 40.0,
           "profile": {"calls": 3, "variant": "tf_function",
                       "kbert_op_ms": {"_MklMatMul": 30.0, "BatchMatMulV2": 10.0, "AddV2": 10.0},
                       "ort_op_ms": {"MatMul": 30.0, "SkipLayerNormalization": 10.0}}}
    text = render([encoder_latency.profile_note("bert_base", 32, row)], script_templates(encoder_latency.__file__))
    assert "tf_function vs ONNX Runtime fp32" in text and "~40.0 of tf_function's 50.0 ms (80%)" in text


def test_matmul_families_cover_every_runtime_and_not_converts():
    mm = encoder_latency.KBERT_MATMUL
    for name in ("dot", "MatMul", "_MklBatchMatMulV2", "Fully Connected (NC, F32) GEMM",
                 "Batch Matrix Multiply (NC, F32) GEMM", "convolution"):
        assert mm.search(name), name
    for name in ("Convert (NC, F32, QD8)", "Softmax (NC, F32)", "add_fusion", "SELECT_V2"):
        assert not mm.search(name), name
