"""Encoder forward latency, kbert/Keras vs `transformers` on torch CPU and ONNX Runtime, side by side (seq 128,
batch 1 and 32).

    python -m bench.encoder_latency --quick          # MiniLM only, ~2 min on 2 idle cores
    python -m bench.encoder_latency                  # every variant and runtime setting
    python -m bench.encoder_latency --models bert_base --configs default,xla_onednn

Models: BERT-base, DistilBERT-base, ALBERT-base with random weights (a `transformers` model built
from its config, saved with `save_pretrained`, loaded into kbert with `load_hf`: the same weights on
both sides, checked by the max abs difference of the outputs) and MiniLM-L6 (the real checkpoint).

Keras variants: `predict` (model.predict), `tf_function` (`kbert.inference.compile_encoder(...,
jit_compile=False)`: a fixed-shape tf.function run op by op by TF's executor with oneDNN kernels), `xla`
(`kbert.inference.compile_encoder`: tf.function(jit_compile=True) with fixed shapes, the default) and `xla_bf16`
(the same in bfloat16; its max abs diff vs float32 is reported) and `tf_function_bf16` (`tf_function` in
bfloat16: TF's oneDNN kernels, which run bfloat16 matmuls on AMX / AVX512-BF16 where the CPU has them). The
bfloat16 paths load the checkpoint with `load_hf(path, dtype="bfloat16")`: weights stored in bfloat16 (layer norm
still computes in float32), not `mixed_bfloat16`, whose float32 variables are cast on every call. Runtime settings that must be fixed before
TensorFlow starts (oneDNN, XLA flags, thread pools) each run in their own subprocess, with torch measured again
inside it, so every ratio is torch vs Keras in the same process, interleaved (torch, A, B, torch, A, B, ...) and
reduced to medians: contention from other jobs on a shared machine hits both sides alike. In each round a side
first runs untimed for `bench.common.SETTLE_S` (at batch 32 on its batch-1 input, which is cheaper), so it is not
timed while the previous side's worker threads still spin (ONNX Runtime's do after each call, by default) and it is
timed as it runs on its own, back to back.

`tflite_fp32` (batch 1, the default config only): the encoder converted to a float32 `.tflite` with
kbert's converter (`kbert.export.tflite_convert`, sequence output) and run by LiteRT with its
default XNNPACK delegate, 2 threads, as an app or a batch-1 server would; `tflite_fp32_compiled`: the same
flatbuffer on LiteRT's `CompiledModel` API (`kbert.export.litert.compiled_runner`, CPU, 2 threads). The
recommended float path at each batch size is the fastest of kbert's float paths in this run's medians: `xla`,
`tf_function`, (batch 1) `tflite_fp32` and `tflite_fp32_compiled`, and the bfloat16 paths `xla_bf16` and
`tf_function_bf16` where their max abs diff vs torch fp32 is within BF16_MAX_DIFF: that is the path the targets
judge and the result names.

ONNX Runtime (`ort_fp32`, the default config only): the same torch model exported to ONNX, optimized
with `onnxruntime.transformers.optimizer` (bench/ort.py), 2 intra-op threads, timed in the same
interleaved rounds. Each ratio comes with a 95% bootstrap interval over the per-round ratios; a target
is met only when the interval's upper end is <= its limit.

Where a target is missed (or `--profile MODEL:BATCH` asks), a further child process profiles PROFILE_CALLS calls
of the recommended path: `xla` and `tf_function` with TF's profiler (each HLO thunk an event for XLA, each TF op an
event for tf.function; `kbert._compat.tf_profiler`), `tflite_fp32` with LiteRT's op profiler (each XNNPACK operator
an event; `kbert._compat.litert_profiler`), and ONNX Runtime with its own profiler (per-node kernel times). The
result splits each side's median latency by its share of profiled op time: matrix multiplies vs the rest, and the
largest ops.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.common import SETTLE_S, interleaved_rounds, litert_call, note, ratio, target, write_result

NOTES = {
    "setup": "seq {seq}, torch {torch_threads} threads (torch.set_num_threads), ONNX Runtime {torch_threads} intra-op "
             "threads, TF default thread pools unless the config says otherwise; configs run: {configs}. Recommended "
             "float path = the fastest, in this run, of kbert.inference.compile_encoder with XLA (xla: "
             "jit_compile=True, fixed shapes, TF defaults) or without (tf_function: jit_compile=False, TF's executor "
             "and oneDNN kernels), in float32 or (where the outputs stay within {bf16_max_diff} of torch's) bfloat16 weights, and, "
             "at batch 1, a float32 .tflite on LiteRT (XNNPACK, 2 threads; Interpreter or CompiledModel API). "
             "{rounds_b1} interleaved rounds at batch 1, {rounds} at larger batches (one timed call of each side per "
             "round, after {settle_s} s of untimed calls of the same side, at batch 1; ratios per round, median and "
             "95% bootstrap interval); {seconds:.0f} s in all.",
    "missed": "Missed: {gaps}.",
    "profile": "Profile of {model} batch {batch}, {variant} vs ONNX Runtime fp32 ({calls} profiled calls each, median "
               "latency split by share of profiled op time): matrix multiplies ~{kbert_mm} of {variant}'s "
               "{kbert_wall} ms ({kbert_share:.0%}) vs ~{ort_mm} of ORT's {ort_wall} ms ({ort_share:.0%}; its fused "
               "Attention counted as matmul), the rest ~{kbert_rest} vs ~{ort_rest} ms: {where} make up most of the "
               "difference. Largest ops: {variant} {kbert_top}; ORT {ort_top}.",
    "alternatives": "Faster than the recommended path in the same interleaved rounds (medians): {alts}.",
    "no_alternatives": "No other variant timed in the same interleaved rounds beat the recommended path's median.",
    "config_alternatives": "Faster than the recommended path's median in a config's own process (not interleaved "
                           "with it, so a difference of a few percent may be run-to-run drift): {alts}. "
                           "kbert.inference keeps TF defaults: XLA flags, oneDNN and thread pools are process-wide "
                           "settings for the user to choose.",
    "recommended": "Recommended float path by measurement: {paths}.",
}

MODELS = ("bert_base", "distilbert_base", "albert_base", "minilm_l6")
# name -> environment for the child process (set before TensorFlow is imported).
CONFIGS = {
    "default": {},
    "inter1": {"KBERT_BENCH_INTER_OP": "1"},
    "onednn_off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "xla_onednn": {"XLA_FLAGS": "--xla_cpu_use_onednn=true"},
    "xla_legacy_runtime": {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=false"},
    "xla_xnnpack": {"XLA_FLAGS": "--xla_cpu_use_xnnpack=true"},
}
SEQ = 128
TORCH_THREADS = 2
PROFILE_CALLS = 3
# a bfloat16 path may be recommended only while its sequence output stays this close to torch's float32 (max abs diff;
# bf16 keeps 8 bits of mantissa: BERT-base hidden states differ by ~0.03-0.09, float32 paths by ~1e-5)
BF16_MAX_DIFF = 0.1
FLOAT_PATHS = ("xla", "tf_function", "tflite_fp32", "tflite_fp32_compiled")
BF16_PATHS = ("xla_bf16", "tf_function_bf16")
# the Keras dtype policy of the bf16 paths: bfloat16 variables, so no per-call weight casts
BF16_DTYPE = "bfloat16"
# op families counted as matrix multiplies: HLO thunk names (XLA), TF op types (tf.function), XNNPACK operators
# (TFLite: "Fully Connected (NC, F32) GEMM", "Batch Matrix Multiply (NC, F32)") and ONNX op types (ORT)
KBERT_MATMUL = re.compile(r"dot|matmul|gemm|conv(?!ert)|matrix multiply|fully connected", re.IGNORECASE)
ORT_MATMUL = {"MatMul", "FusedMatMul", "Gemm", "Attention", "MultiHeadAttention", "MatMulInteger",
              "DynamicQuantizeMatMul"}
# what an XLA CPU executable's thunks run inside, on the caller's thread and on the pool's
XLA_EXECUTORS = ("CpuExecutable::ExecuteAsyncOnStream", "ThunkExecutor::Execute")
# what TF's graph executor runs a tf.function's ops inside (each op an event named "node:OpType")
TF_EXECUTORS = ("ExecutorState::Process",)
XLA_WAITS = ("BlockUntilReady",)  # the caller waiting for the pool inside the executable's event: not an op


def hf_config(name: str):
    import transformers

    if name == "bert_base":
        return transformers.BertConfig()
    if name == "distilbert_base":
        return transformers.DistilBertConfig()
    if name == "albert_base":
        return transformers.AlbertConfig(embedding_size=128, hidden_size=768, num_hidden_layers=12,
                                         num_attention_heads=12, intermediate_size=3072)
    raise ValueError(name)


def load_pair(name: str, tmp: str, dtypes=("float32",)):
    """(torch model, {dtype: kbert backbone}) with the same weights."""
    import torch
    import transformers

    from kbert.checkpoints.hf import load_hf

    if name == "minilm_l6":
        import kbert.assets

        path = kbert.assets.minilm_dir()
        torch_model = transformers.AutoModel.from_pretrained(path).eval()
    else:
        torch.manual_seed(0)
        torch_model = transformers.AutoModel.from_config(hf_config(name)).eval()
        path = os.path.join(tmp, name)
        torch_model.save_pretrained(path)
    keras_models = {d: load_hf(path, dtype=d, with_tokenizer=False).backbone for d in dtypes}
    return torch_model, keras_models


def tflite_float32(keras_model, feed) -> bytes:
    """Float32 flatbuffer of the encoder's sequence output at the feed's (batch, seq) shape."""
    import keras

    from kbert.export.tflite_convert import explicit_attention, quiet_convert, tflite_converter
    from kbert.models import sequence_output

    # inputs in sorted order: TF's converter feeds a Keras 3 functional model its inputs as a list, which Keras
    # maps onto a dict input in sorted key order (another order silently falls back to a path that fails)
    ins = {k: keras.Input(shape=feed[k].shape[1:], batch_size=feed[k].shape[0], dtype="int32", name=k)
           for k in sorted(feed)}
    with explicit_attention(keras_model):
        wrapper = keras.Model(ins, {"sequence_output": sequence_output(keras_model(ins))})
        return quiet_convert(tflite_converter(wrapper, "float32"))


def inputs(keras_model, torch_model, batch: int, rng):
    """(kbert feed, torch feed): random token ids at (batch, SEQ), every position real."""
    import torch

    ids = rng.integers(1000, torch_model.config.vocab_size, size=(batch, SEQ)).astype("int32")
    mask = np.ones_like(ids)
    feed = {"token_ids": ids, "padding_mask": mask}
    torch_feed = {"input_ids": torch.from_numpy(ids).long(), "attention_mask": torch.from_numpy(mask).long()}
    if "segment_ids" in keras_model.input:
        feed["segment_ids"] = np.zeros_like(ids)
        torch_feed["token_type_ids"] = torch.zeros_like(torch_feed["input_ids"])
    return feed, torch_feed


def _op_times(logdir: str, executors, is_op, family) -> dict:
    """{op family: picoseconds}: the outermost events `is_op(name)` inside an `executors` event on the same thread
    of every trace under `logdir`, summed by `family(name)`."""
    from kbert._compat.tf_profiler import host_events, xplane_files

    out = {}
    for path in xplane_files(logdir):
        lines = {}
        for thread, _, name, start, dur in host_events(path):
            lines.setdefault(thread, []).append((start, start + dur, name))
        for events in lines.values():
            spans = [(a, b) for a, b, n in events if n in executors]
            ops = sorted(((a, b, n) for a, b, n in events if is_op(n)
                          and any(s <= a and b <= e for s, e in spans)), key=lambda t: (t[0], -t[1]))
            end = -1
            for a, b, n in ops:
                if a >= end:  # not nested in the previous outermost op
                    out[family(n)] = out.get(family(n), 0) + (b - a)
                    end = b
    return out


def thunk_times(logdir: str) -> dict:
    """{HLO op family: picoseconds} of the thunks XLA CPU executables ran while TF's profiler traced into `logdir`:
    the outermost events (names without ':', waits left out) inside an executor's event on the same thread;
    family = the HLO instruction name without its `.N` suffix."""
    return _op_times(logdir, XLA_EXECUTORS, lambda n: ":" not in n and n not in XLA_WAITS,
                     lambda n: re.sub(r"\.\d+$", "", n))


def graph_op_times(logdir: str) -> dict:
    """{TF op type: picoseconds} of the ops TF's executor ran (a tf.function without XLA) while TF's profiler traced
    into `logdir`: the outermost "node:OpType" events (one ':'; the runtime's own `Class::method` events left out)
    inside the executor's events; family = the op type (oneDNN kernels as `_Mkl...`)."""
    return _op_times(logdir, TF_EXECUTORS, lambda n: ":" in n and "::" not in n,
                     lambda n: n.rsplit(":", 1)[1])


def profile_child(model: str, batch: int, variant: str = "xla") -> dict:
    """Per-call op times (ms) of kbert's `variant` (`xla` or `tf_function`, float32 or `_bf16`: compile_encoder with
    or without jit_compile, traced by TF's profiler; `tflite_fp32` / `tflite_fp32_compiled`: the float32 .tflite on
    LiteRT's interpreter, its op profiler: the same XNNPACK operators either API runs) and of ONNX Runtime fp32 for
    one model and batch."""
    import tensorflow as tf
    import torch

    from bench import ort

    torch.set_num_threads(TORCH_THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        dtype = BF16_DTYPE if variant.endswith("_bf16") else "float32"
        torch_model, keras_models = load_pair(model, tmp, ("float32", dtype) if dtype != "float32" else ("float32",))
        feed, _ = inputs(keras_models["float32"], torch_model, batch, np.random.default_rng(0))
        if variant.startswith("tflite_fp32"):
            from kbert._compat.litert_profiler import op_times

            path = os.path.join(tmp, "encoder.tflite")
            with open(path, "wb") as f:
                f.write(tflite_float32(keras_models["float32"], feed))
            kbert_ops = op_times(path, feed, num_threads=TORCH_THREADS, calls=PROFILE_CALLS)
        else:
            from kbert.inference import compile_encoder

            tf_feed = {k: tf.constant(v) for k, v in feed.items()}
            fast = compile_encoder(keras_models[dtype], batch, SEQ, jit_compile=variant.startswith("xla"))
            fast(tf_feed)
            fast(tf_feed)
            logdir = os.path.join(tmp, "trace")
            tf.profiler.experimental.start(logdir)
            for _ in range(PROFILE_CALLS):
                fast(tf_feed)
            tf.profiler.experimental.stop()
            ops = thunk_times(logdir) if variant.startswith("xla") else graph_op_times(logdir)
            kbert_ops = {k: v / 1e9 / PROFILE_CALLS for k, v in ops.items()}
        session = ort.ort_sessions(torch_model, os.path.join(tmp, "onnx"), threads=TORCH_THREADS, int8=False,
                                   profile=True)["ort_fp32"]
        call = ort.feed_fn(session, feed["token_ids"], feed["padding_mask"])
        for _ in range(1 + PROFILE_CALLS):
            call()
        times, runs = ort.node_times(session, skip_runs=1)
    return {"calls": PROFILE_CALLS, "variant": variant, "kbert_op_ms": {k: round(v, 3) for k, v in kbert_ops.items()},
            "ort_op_ms": {k: round(v / 1e3 / max(runs, 1), 3) for k, v in times.items()}}


def profile_note(model: str, batch: int, row: dict) -> dict:
    """The "profile" note for a row whose `profile` holds `profile_child`'s op times."""
    prof = row["profile"]
    variant = prof["variant"]

    def split(ops, is_mm, wall):
        total = sum(ops.values()) or 1.0
        share = sum(v for k, v in ops.items() if is_mm(k)) / total
        top = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:3])
        return share, share * wall, (1 - share) * wall, top

    kbert_wall, ort_wall = row[f"{variant}_ms"], row["ort_fp32_ms"]
    ks, kmm, krest, ktop = split(prof["kbert_op_ms"], lambda k: bool(KBERT_MATMUL.search(k)), kbert_wall)
    os_, omm, orest, otop = split(prof["ort_op_ms"], lambda k: k in ORT_MATMUL, ort_wall)
    where = "matrix multiplies" if abs(kmm - omm) >= abs(krest - orest) else "the ops other than matrix multiplies"
    return note("profile", model=model, batch=batch, variant=variant, calls=prof["calls"],
                kbert_mm=f"{kmm:.1f}", kbert_wall=f"{kbert_wall:.1f}", kbert_share=ks, ort_mm=f"{omm:.1f}",
                ort_wall=f"{ort_wall:.1f}", ort_share=os_, kbert_rest=f"{krest:.1f}", ort_rest=f"{orest:.1f}",
                where=where, kbert_top=ktop, ort_top=otop)


def child(args) -> dict:
    """Measure inside this process (its environment already holds the config's settings)."""
    inter = os.environ.get("KBERT_BENCH_INTER_OP")
    import tensorflow as tf

    from kbert.inference import compile_encoder, configure_threads

    if inter:
        configure_threads(inter=int(inter))
    import torch

    torch.set_num_threads(TORCH_THREADS)
    variants = args.variants.split(",")
    large_variants = args.large_variants.split(",") if args.large_variants else variants
    out, sessions = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            bf16 = any(v in BF16_PATHS for v in variants + large_variants)
            dtypes = ("float32", BF16_DTYPE) if bf16 else ("float32",)
            torch_model, keras_models = load_pair(name, tmp, dtypes)
            keras_model = keras_models["float32"]
            rng = np.random.default_rng(0)
            smallest = {}  # variant -> its callable at the first (smallest) batch: what the rounds settle with
            for batch in [int(b) for b in args.batches.split(",")]:
                vs = variants if batch == 1 else large_variants
                feed, torch_feed = inputs(keras_model, torch_model, batch, rng)
                ids, mask = feed["token_ids"], feed["padding_mask"]
                tf_feed = {k: tf.constant(v) for k, v in feed.items()}

                def run_torch():
                    with torch.no_grad():
                        return torch_model(**torch_feed).last_hidden_state.numpy()

                fns = {"torch": run_torch}
                if "predict" in vs:
                    fns["predict"] = lambda: keras_model.predict(feed, batch_size=batch, verbose=0)
                if "tf_function" in vs:
                    graph = compile_encoder(keras_model, batch, SEQ, jit_compile=False)
                    fns["tf_function"] = lambda: graph(tf_feed)
                if "xla" in vs:
                    fast = compile_encoder(keras_model, batch, SEQ)
                    fns["xla"] = lambda: fast(tf_feed)
                if "xla_bf16" in vs:
                    fast16 = compile_encoder(keras_models[BF16_DTYPE], batch, SEQ)
                    fns["xla_bf16"] = lambda: fast16(tf_feed)
                if "tf_function_bf16" in vs:
                    graph16 = compile_encoder(keras_models[BF16_DTYPE], batch, SEQ, jit_compile=False)
                    fns["tf_function_bf16"] = lambda: graph16(tf_feed)
                if {"tflite_fp32", "tflite_fp32_compiled"} & set(vs) and batch == 1:
                    content = tflite_float32(keras_model, feed)
                    if "tflite_fp32" in vs:
                        fns["tflite_fp32"] = litert_call(content, feed, TORCH_THREADS, output="sequence_output")
                    if "tflite_fp32_compiled" in vs:
                        from kbert.export.litert import compiled_runner

                        compiled = compiled_runner(content, TORCH_THREADS)
                        fns["tflite_fp32_compiled"] = lambda: compiled(**feed)["sequence_output"]
                if "ort_fp32" in vs:
                    from bench import ort

                    if name not in sessions:
                        sessions[name] = ort.ort_sessions(torch_model, os.path.join(tmp, f"{name}_onnx"),
                                                          threads=TORCH_THREADS, int8=False)["ort_fp32"]
                    fns["ort_fp32"] = ort.feed_fn(sessions[name], ids, mask)
                # Warm up (traces, XLA compiles) and check that both sides compute the same thing.
                results = {}
                for v, fn in fns.items():
                    t = time.perf_counter()
                    results[v] = fn()
                    fn()
                    results[v + "_warmup_s"] = time.perf_counter() - t
                from kbert.models import sequence_output

                ref = results["torch"]
                diffs = {}
                for v in fns:
                    if v != "torch":
                        seq = np.asarray(sequence_output(results[v]), dtype="float32")
                        diffs[v] = float(np.abs(seq - ref).max())
                for v, fn in fns.items():
                    smallest.setdefault(v, fn)
                repeats = args.repeats_b1 if batch == 1 else args.repeats
                # interleaved: torch, A, B, torch, A, B, ...; each timed call after SETTLE_S of the same side
                times = interleaved_rounds(fns, rounds=repeats, per_round=1, warmup=0, settle=smallest)
                med = {v: statistics.median(ts) for v, ts in times.items()}
                row = {f"{v}_ms": round(m, 2) for v, m in med.items()}
                for base in ("torch", "ort_fp32"):  # per-round ratios: median + 95% interval
                    for v in fns:
                        if v != base and base in fns and not (base == "ort_fp32" and v == "torch"):
                            r = ratio(times[v], times[base])
                            row[f"{v}_vs_{base}"] = r["median"]
                            row[f"{v}_vs_{base}_interval"] = [r["lo"], r["hi"]]
                row.update({f"{v}_maxdiff": d for v, d in diffs.items()})  # max abs diff of sequence outputs vs torch
                row["repeats"] = repeats
                out.setdefault(name, {})[f"batch{batch}"] = row
                print(json.dumps({name: {f"batch{batch}": row}}), file=sys.stderr, flush=True)
            del torch_model, keras_models
            sessions.pop(name, None)
    return out


def recommended_variant(row: dict) -> str:
    """The fastest of kbert's float paths measured in the default config (`xla`, `tf_function`, and at batch 1
    `tflite_fp32` / `tflite_fp32_compiled`; the bfloat16 paths where their max abs diff is within BF16_MAX_DIFF)."""
    measured = [v for v in FLOAT_PATHS if row.get(f"{v}_ms") is not None]
    measured += [v for v in BF16_PATHS if row.get(f"{v}_ms") is not None
                 and row.get(f"{v}_maxdiff", float("inf")) <= BF16_MAX_DIFF]
    return min(measured, key=lambda v: row[f"{v}_ms"]) if measured else "xla"


def run_child(extra: list, env: dict, timeout: int) -> dict:
    """Run `python -m bench.encoder_latency --child ...extra` with `env` added: its last JSON line, or
    {"error": ...}."""
    cmd = [sys.executable, "-m", "bench.encoder_latency", "--child", *extra]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        r = subprocess.run(cmd, cwd=root, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith(("I0000", "E0000", "WARNING"))]
        return {"error": f"exit {r.returncode}: " + " | ".join(tail[-3:])[:400]}
    return json.loads(lines[-1])


def run_config(config: str, models, batches, variants, repeats, repeats_b1, timeout, large_variants=None) -> dict:
    extra = ["--models", ",".join(models), "--batches", ",".join(map(str, batches)), "--variants", ",".join(variants),
             "--repeats", str(repeats), "--repeats-b1", str(repeats_b1)]
    if large_variants:
        extra += ["--large-variants", ",".join(large_variants)]
    return run_child(extra, CONFIGS[config], timeout)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--models", default=None)
    p.add_argument("--configs", default=None)
    p.add_argument("--batches", default="1,32")
    p.add_argument("--variants", default=None)
    p.add_argument("--repeats", type=int, default=None, help="timed calls per variant at batch > 1")
    p.add_argument("--repeats-b1", type=int, default=None, help="timed calls per variant at batch 1")
    p.add_argument("--large-variants", default=None, help="variants at batch > 1 (default: --variants)")
    p.add_argument("--profile", default="", help="MODEL:BATCH[,MODEL:BATCH...] to profile even if its targets are met")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--profile-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        if args.profile_child:
            model, batch, variant = args.profile_child.split(":")
            print(json.dumps(profile_child(model, int(batch), variant)))
        else:
            print(json.dumps(child(args)))
        return 0
    forced = {tuple(x.split(":")) for x in args.profile.split(",") if x}

    # quick: the real checkpoint only (5 interleaved rounds of torch, XLA, tf.function and ORT at batch 32 keep it to a
    # few minutes on 2 idle cores); the full run times all four
    models = args.models.split(",") if args.models else (["minilm_l6"] if args.quick else list(MODELS))
    batches = [int(b) for b in args.batches.split(",")]
    if args.quick:
        configs = args.configs.split(",") if args.configs else ["default"]
        # quick: the candidate recommended paths (XLA, tf.function without XLA, TFLite at batch 1) against torch and
        # ORT; the full run adds predict / bf16 and the other configs
        variants = args.variants.split(",") if args.variants else ["xla", "tf_function", "tflite_fp32",
                                                                   "tflite_fp32_compiled", "ort_fp32"]
        large = args.large_variants.split(",") if args.large_variants else ["xla", "tf_function", "tf_function_bf16",
                                                                            "ort_fp32"]
        repeats, repeats_b1 = args.repeats or 5, args.repeats_b1 or 8
    else:
        configs = args.configs.split(",") if args.configs else list(CONFIGS)
        variants = args.variants.split(",") if args.variants else ["predict", "tf_function", "xla", "xla_bf16",
                                                                   "tf_function_bf16", "tflite_fp32",
                                                                   "tflite_fp32_compiled", "ort_fp32"]
        large = args.large_variants.split(",") if args.large_variants else variants
        repeats, repeats_b1 = args.repeats or 7, args.repeats_b1 or 15
    figures, t0 = {}, time.time()
    if min(repeats, repeats_b1) < 5:
        print("note: fewer than 5 rounds: the ratio intervals are too wide to call a target met", flush=True)
    for config in configs:
        # settings other than the default only change the Keras side: measure the compiled path there
        keep = (lambda vs: vs) if config == "default" else (lambda vs: [v for v in vs if v in ("xla", "tf_function")])
        print(f"config {config}: {CONFIGS[config] or 'TF defaults'} ...", flush=True)
        result = run_config(config, models, batches, keep(variants), repeats, repeats_b1, timeout=3600,
                            large_variants=keep(large))
        if "error" in result:
            figures.setdefault("errors", {})[config] = result["error"]
            print(f"config {config}: {result['error']}", flush=True)
            continue
        for model, by_batch in result.items():
            for b, row in by_batch.items():
                figures.setdefault(model, {}).setdefault(b, {}).update(
                    {(k if config == "default" else f"{config}.{k}"): v for k, v in row.items()
                     if config == "default" or not k.startswith("torch")})
                if config != "default":
                    figures[model][b][f"{config}.torch_ms"] = row.get("torch_ms")

    # Targets: the recommended path vs torch and vs ORT fp32 at both batch sizes, every model.
    targets, gaps, chosen = {}, [], []
    for base in ("torch", "ort_fp32"):
        for model in models:
            for b in batches:
                row = figures.get(model, {}).get(f"batch{b}", {})
                variant = recommended_variant(row)
                row["recommended"] = variant
                if base == "torch":
                    chosen.append(f"{model} batch {b}: {variant}")
                key = f"{variant}_vs_{base}"
                if row.get(key) is None:
                    continue
                lo, hi = row[f"{key}_interval"]
                name = f"{model} batch {b}: recommended / {base}"
                targets[name] = target(name, row[key], 1.0, interval={"lo": lo, "hi": hi,
                                                                       "rounds": row["repeats"]})
                if not targets[name]["met"]:
                    gaps.append(f"{model} batch {b} vs {base} {row[key]:.2f}x (upper end {hi:.2f}x)")
    # the best Keras setting per row (vs torch, same rounds), and the variants whose medians beat the recommended path
    same, other = [], []
    for model in models:
        for b, row in figures.get(model, {}).items():
            # timed in this config's own interleaved rounds: other configs' ratios vs torch come from other processes
            ratios = {k[:-len("_vs_torch")]: v for k, v in row.items() if k.endswith("_vs_torch")
                      and not k.startswith("ort") and "." not in k}
            if ratios:
                best = min(ratios, key=ratios.get)
                row["best_setting"], row["best_vs_torch"] = best, ratios[best]
            # absolute medians: a ratio vs torch across processes mixes in torch's own drift between them
            rec = row.get("recommended", "xla")
            rec_ms = row.get(f"{rec}_ms")
            medians = sorted((k[:-len("_ms")], v) for k, v in row.items()
                             if k.endswith("_ms") and isinstance(v, (int, float)))
            for variant, v in sorted(medians, key=lambda kv: kv[1]):
                if rec_ms is None or variant == rec or variant.split(".")[-1] in ("torch", "ort_fp32") or v >= rec_ms:
                    continue
                diff = f" (max abs diff {row[variant + '_maxdiff']:.1e})" if variant + "_maxdiff" in row else ""
                (other if "." in variant else same).append(
                    f"{model} {b.replace('batch', 'batch ')}: {variant} {v:.1f} ms vs {rec} {rec_ms:.1f} ms{diff}")
    # Why a target is missed: profile kbert's recommended path and ORT (default config); --profile forces a row.
    missed = {(m, b) for name, t in targets.items() if not t["met"]
              for m, b in [name.split(":")[0].split(" batch ")]}
    profiled = []
    for model in models:
        for b in batches:
            row = figures.get(model, {}).get(f"batch{b}", {})
            if (model, str(b)) not in missed | forced or row.get("ort_fp32_ms") is None:
                continue
            variant = row["recommended"]
            print(f"profiling {model} batch {b} ({variant}) ...", flush=True)
            prof = run_child(["--profile-child", f"{model}:{b}:{variant}"], {}, timeout=1800)
            if "error" in prof:
                figures.setdefault("errors", {})[f"profile {model} batch {b}"] = prof["error"]
                continue
            row["profile"] = prof
            profiled.append(profile_note(model, b, row))
    figures["targets"] = targets
    notes = [note("setup", seq=SEQ, torch_threads=TORCH_THREADS, bf16_max_diff=BF16_MAX_DIFF, configs=", ".join(configs), rounds=repeats,
                  rounds_b1=repeats_b1, settle_s=SETTLE_S, seconds=round(time.time() - t0))]
    notes.append(note("recommended", paths="; ".join(chosen)))
    if gaps:
        notes.append(note("missed", gaps="; ".join(gaps)))
    notes += profiled
    notes.append(note("alternatives", alts="; ".join(same)) if same else note("no_alternatives"))
    if other:
        notes.append(note("config_alternatives", alts="; ".join(other)))
    write_result("encoder_latency", figures, notes, quick=args.quick,
                 datasets={"inputs": "random token ids, all positions real", "seq_len": SEQ})
    return 0


if __name__ == "__main__":
    sys.exit(main())
