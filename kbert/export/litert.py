"""Running and inspecting `.tflite` files with the LiteRT interpreter (`ai_edge_litert`, PyPI
`ai-edge-litert`; `tf.lite.Interpreter` is deprecated since TF 2.20).

    >>> from kbert.export import litert
    >>> outs, latency_ms = litert.run(content, feeds, latency_runs=10)          # doctest: +SKIP
    >>> litert.inspect_file("clf.tflite")["ops"][0]                             # doctest: +SKIP
    {'op': 'FULLY_CONNECTED', 'version': 12, 'count': 38, 'custom': False}

* `run` / `interpreter`: kbert's own freshly converted bytes, in this process.
* `compiled_runner`: the same bytes on LiteRT's newer `CompiledModel` API (CPU, XNNPACK): what LiteRT's
  Kotlin/Swift/C++ `CompiledModel` apps run, with pre-allocated input and output buffers.
* `inspect_file`: a file someone gave us. A crafted flatbuffer can crash the TFLite parser
  (TF 2.21's `tf.lite.Interpreter` segfaults on 256 bytes of "TFL3" repeated, see
  tests/test_corrupt_files.py), so it is parsed, loaded and run once in a child process; a crash
  becomes a one-line `KbertInputError` naming the file. The child also measures what the model card
  reports: load time (memory-mapped file to allocated tensors), the interpreter's peak memory (growth
  of the child's peak RSS over loading and the first invoke, before anything else touches the
  file), and the share of ops the default XNNPACK delegate took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from kbert.errors import KbertInputError, require_extra


def _interpreter_class():
    module = require_extra("ai_edge_litert.interpreter", "default", "ai-edge-litert")
    return module.Interpreter


def litert_version() -> str:
    import ai_edge_litert

    return getattr(ai_edge_litert, "__version__", "unknown")


def interpreter(content: bytes, num_threads: int = 2, allocate: bool = True, latest_features: bool = False):
    """A LiteRT interpreter on flatbuffer bytes (default XNNPACK delegate on; `latest_features`: with the
    delegate's newest, opt-in features)."""
    extra = {"experimental_default_delegate_latest_features": True} if latest_features else {}
    interp = _interpreter_class()(model_content=bytes(content), num_threads=num_threads, **extra)
    if allocate:
        interp.allocate_tensors()
    return interp


def compiled_runner(content: bytes, num_threads: int = 2, signature: str | None = None):
    """A callable `run(**feed) -> {output name: array}` running a signature (default: the first) of the
    flatbuffer with LiteRT's `CompiledModel` on the CPU (XNNPACK, `num_threads`). Input and output buffers
    are created once; each call writes the feed into them, runs, and reads the outputs back."""
    compiled = require_extra("ai_edge_litert.compiled_model", "default", "ai-edge-litert")
    opts = require_extra("ai_edge_litert.options", "default", "ai-edge-litert")
    model = compiled.CompiledModel.from_buffer(
        bytes(content), options=opts.Options(cpu_options=opts.CpuOptions(num_threads=num_threads)))
    signature = signature or next(iter(model.get_signature_list()))
    in_details = model.get_input_tensor_details(signature)
    out_details = model.get_output_tensor_details(signature)
    ins = {n: model.create_input_buffer_by_name(signature, n) for n in in_details}
    outs = {n: model.create_output_buffer_by_name(signature, n) for n in out_details}

    def run(**feed):
        missing = sorted(set(in_details) - set(feed))
        if missing:
            raise KbertInputError(f"LiteRT signature {signature!r} needs inputs {missing}")
        for n, buf in ins.items():
            d = in_details[n]
            value = np.asarray(feed[n], dtype=d["dtype"])
            if list(value.shape) != list(d["shape"]):
                raise KbertInputError(f"input {n!r} has shape {list(value.shape)}, the model takes {d['shape']}")
            buf.write(value)
        model.run_by_name(signature, ins, outs)
        return {n: outs[n].read(int(np.prod(d["shape"])), d["dtype"]).reshape(d["shape"])
                for n, d in out_details.items()}

    run.model = model  # the buffers belong to it: keep it alive as long as `run`
    return run


def interpreter_from_file(path: str, num_threads: int = 2):
    """A LiteRT interpreter on a file (memory-mapped, as on a phone), tensors allocated."""
    interp = _interpreter_class()(model_path=os.fspath(path), num_threads=num_threads)
    interp.allocate_tensors()
    return interp


def run(content: bytes, inputs, num_threads: int = 2, latency_runs: int = 0):
    """Outputs of the flatbuffer on each feed (list of dict name -> [1, ...] arrays, or a dict of
    [n, ...] arrays fed row by row), plus the median latency in ms (batch 1) or None."""
    if isinstance(inputs, dict):
        n = len(next(iter(inputs.values())))
        inputs = [{k: v[i:i + 1] for k, v in inputs.items()} for i in range(n)]
    interp = interpreter(content, num_threads)
    runner = interp.get_signature_runner()
    outs = [runner(**feed) for feed in inputs]
    latency = None
    if latency_runs and inputs:
        feed = inputs[0]
        runner(**feed)
        times = []
        for _ in range(latency_runs):
            t = time.perf_counter()
            runner(**feed)
            times.append((time.perf_counter() - t) * 1000)
        latency = float(np.median(times))
    return outs, latency


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _model(content: bytes):
    schema = _schema()
    return schema, schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(content), 0))


def op_codes(content: bytes) -> list[tuple[str, int, bool]]:
    """[(op name, version, is custom)] for each operator code of a trusted flatbuffer."""
    schema, m = _model(content)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for code in m.operatorCodes:
        if code.customCode:
            name = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            out.append((name, int(code.version), True))
        else:
            builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
            out.append((names.get(builtin, str(builtin)), int(code.version), False))
    return out


def min_runtime_version(content: bytes) -> str | None:
    """The converter's `min_runtime_version` metadata: the oldest TFLite runtime whose kernels
    cover every op version in the file (TF's tools/versioning/runtime_version.cc)."""
    _, m = _model(content)
    for md in m.metadata or []:
        if md.name in (b"min_runtime_version", "min_runtime_version"):
            return bytes(m.buffers[md.buffer].data).rstrip(b"\0").decode()
    return None


def op_table(content: bytes) -> list[dict]:
    """[{"op", "version", "count", "custom", "min_runtime"}] in first-use order (`min_runtime`: the
    oldest TFLite runtime with that op version's kernel, `kbert.export.op_versions`)."""
    from kbert.export.op_versions import min_runtime

    schema, m = _model(content)
    codes = op_codes(content)
    counts = {}
    for sub in m.subgraphs:
        for op in sub.operators or []:
            counts[op.opcodeIndex] = counts.get(op.opcodeIndex, 0) + 1
    return [{"op": name, "version": version, "count": counts.get(i, 0), "custom": custom,
             "min_runtime": None if custom else min_runtime(name, version)}
            for i, (name, version, custom) in enumerate(codes)]


def delegated_share(interp) -> tuple[int, int]:
    """(ops taken by delegates, all ops) of an allocated interpreter: the ops between each DELEGATE
    node's inputs and outputs are the ones it replaced."""
    from kbert._compat.tflite import ops_details

    ops = ops_details(interp)
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    plain = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {}
    for o in plain:
        for t in o["outputs"]:
            producer[int(t)] = o["index"]
    by_index = {o["index"]: o for o in plain}
    taken = set()
    for d in delegates:
        stop = {int(t) for t in d["inputs"]}
        todo = [int(t) for t in d["outputs"]]
        while todo:
            t = todo.pop()
            i = producer.get(t)
            if i is None or i in taken or t in stop:
                continue
            taken.add(i)
            todo.extend(int(x) for x in by_index[i]["inputs"] if int(x) >= 0)
    return len(taken), len(plain)


_CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from kbert.export import litert

path, num_threads = sys.argv[1], int(sys.argv[2])


def high_water_kb():
    # VmHWM belongs to this process image; ru_maxrss can carry the parent's peak across fork + exec
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


base = high_water_kb()
t = time.perf_counter()
interp = litert.interpreter_from_file(path, num_threads)
info = {"load_ms": round((time.perf_counter() - t) * 1000, 2)}
for d in interp.get_input_details():
    interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
interp.invoke()
info["peak_memory_mb"] = round((high_water_kb() - base) / 1024, 2)
with open(path, "rb") as f:
    content = f.read()
info["size_bytes"] = len(content)
info["ops"] = litert.op_table(content)
info["min_runtime_version"] = litert.min_runtime_version(content)
taken, total = litert.delegated_share(interp)
info["xnnpack_ops"], info["total_ops"] = taken, total
info["xnnpack_share"] = round(taken / total, 4) if total else 0.0
info["inputs"] = [{"name": d["name"], "shape": [int(x) for x in d["shape"]], "dtype": np.dtype(d["dtype"]).name}
                  for d in interp.get_input_details()]
info["outputs"] = [{"name": d["name"], "shape": [int(x) for x in d["shape"]], "dtype": np.dtype(d["dtype"]).name}
                   for d in interp.get_output_details()]
info["litert_version"] = litert.litert_version()
print("KBERT-INSPECT " + json.dumps(info))
"""


def inspect_file(path, num_threads: int = 2, timeout: float = 300) -> dict:
    """Parse, load and invoke `path` once in a child process; the figures for the model card.

    A damaged or hostile file that crashes the parser or the interpreter raises `KbertInputError`
    here instead of killing this process."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KbertInputError(f"{path}: no such .tflite file")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, path, str(num_threads)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise KbertInputError(f"{path}: loading the .tflite did not finish in {timeout:g} s") from None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("KBERT-INSPECT ")), None)
    if proc.returncode == 0 and line:
        return json.loads(line[len("KBERT-INSPECT "):])
    if proc.returncode < 0:
        why = f"the TFLite parser crashed (signal {-proc.returncode})"
    else:
        last = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        why = last[-1].strip() if last else f"exit status {proc.returncode}"
    raise KbertInputError(f"{path} is not a loadable .tflite: {why}")
