"""Per-op times of a `.tflite` run by LiteRT on the CPU, read from LiteRT's op profiler.

ai-edge-litert's Python `Interpreter` and `CompiledModel` expose no profiler; its C API does (`litert_profiler.h`,
`litert_compiled_model.h`) and the wheel ships it as `libLiteRt.so`. This module drives that C API with ctypes:
an environment, the model from a file, a CompiledModel on the CPU (XNNPACK) with the runtime option
`enable_profiling = true` and `num_threads` for XNNPACK (both passed as opaque TOML options, as the C API's own
option builders serialize them), managed tensor buffers for the default signature, and the profiler's events.
With XNNPACK each event is one of the delegate's own operators ("Fully Connected (NC, F32) GEMM", "Batch Matrix
Multiply (NC, F32)", ...), timed in microseconds.

The layout of `ProfiledEventData` and the option identifiers were taken from LiteRT's public headers of the C API
that ai-edge-litert 2.3 ships, and checked on that version only (`PROFILER_SINCE`; older wheels name the profiler
functions differently): tests/test_compat.py runs it on a real flatbuffer.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from kbert._compat import CompatError, check

TOUCH = "profiling a .tflite's ops with LiteRT's C API (libLiteRt.so in ai-edge-litert)"
HW_CPU = 1  # kLiteRtHwAcceleratorCpu
LOCK_WRITE = 1  # kLiteRtTensorBufferLockModeWrite
# LiteRtProfilerEventType: an op of the graph, an op inside a delegate reported in the op-wise section
OPERATOR_INVOKE_EVENT, DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT = 1 << 1, 1 << 3
PROFILER_SINCE = (2, 3)  # the first ai-edge-litert this C API use was checked on
TENSOR_TYPE_BYTES = 1024  # room for a LiteRtRankedTensorType (element type + layout of up to 8 dims)


class _Memory(ctypes.Structure):
    _fields_ = [("total_allocated_bytes", ctypes.c_size_t), ("in_use_allocated_bytes", ctypes.c_size_t),
                ("private_footprint_bytes", ctypes.c_size_t)]


class _Event(ctypes.Structure):  # ProfiledEventData
    _fields_ = [("tag", ctypes.c_char_p), ("event_type", ctypes.c_int), ("start_timestamp_us", ctypes.c_uint64),
                ("elapsed_time_us", ctypes.c_uint64), ("begin_mem_usage", _Memory), ("end_mem_usage", _Memory),
                ("event_metadata1", ctypes.c_uint64), ("event_metadata2", ctypes.c_uint64),
                ("event_source", ctypes.c_int)]


_NO_DELETE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda payload: None)  # payloads stay owned by Python


def _library():
    check("ai-edge-litert", TOUCH, since=PROFILER_SINCE)
    import ai_edge_litert

    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")
    if not os.path.exists(path):
        raise CompatError(f"{TOUCH}: this ai-edge-litert has no {path}")
    lib = ctypes.CDLL(path)
    for name in ("LiteRtDestroyTensorBuffer", "LiteRtDestroyCompiledModel", "LiteRtDestroyModel",
                 "LiteRtDestroyOptions", "LiteRtDestroyEnvironment"):
        getattr(lib, name).restype = None
    return lib


def _call(lib, name: str, *args) -> None:
    try:
        fn = getattr(lib, name)
    except AttributeError as e:
        raise CompatError(f"{TOUCH}: libLiteRt.so has no {name}") from e
    status = fn(*args)
    if status != 0:
        raise RuntimeError(f"LiteRT {name} failed with status {status}")


def op_times(path: str, feed: dict, num_threads: int = 2, calls: int = 3, warmup: int = 1) -> dict:
    """{op name: milliseconds per call}: LiteRT's profiler over `calls` runs of the default signature of the
    `.tflite` at `path` on `feed` ({input name: array}, every input of the signature), after `warmup` runs, XNNPACK
    with `num_threads` threads. Ops of the same name are summed."""
    lib = _library()
    P, size = ctypes.c_void_p, ctypes.c_size_t
    env, model, options, compiled = P(), P(), P(), P()
    payloads, buffers = [], []
    try:
        _call(lib, "LiteRtCreateEnvironment", 0, None, ctypes.byref(env))
        _call(lib, "LiteRtCreateModelFromFile", env, os.fsencode(path), ctypes.byref(model))
        _call(lib, "LiteRtCreateOptions", ctypes.byref(options))
        _call(lib, "LiteRtSetOptionsHardwareAccelerators", options, HW_CPU)
        for identifier, toml in ((b"runtime_options_string", b"enable_profiling = true\n"),
                                 (b"xnnpack", b"num_threads = %d\n" % num_threads)):
            payloads.append(ctypes.create_string_buffer(toml))
            opaque = P()
            _call(lib, "LiteRtCreateOpaqueOptions", identifier, ctypes.cast(payloads[-1], P), _NO_DELETE,
                  ctypes.byref(opaque))
            _call(lib, "LiteRtAddOpaqueOptions", options, opaque)  # options own it from here
        _call(lib, "LiteRtCreateCompiledModel", env, model, options, ctypes.byref(compiled))
        signature = P()
        _call(lib, "LiteRtGetModelSignature", model, size(0), ctypes.byref(signature))

        def make(kind: str) -> list:
            count = size()
            _call(lib, f"LiteRtGetNumSignature{kind}s", signature, ctypes.byref(count))
            out = []
            for i in range(count.value):
                tensor, requirements, buffer = P(), P(), P()
                tensor_type = ctypes.create_string_buffer(TENSOR_TYPE_BYTES)
                _call(lib, f"LiteRtGetSignature{kind}TensorByIndex", signature, size(i), ctypes.byref(tensor))
                _call(lib, "LiteRtGetRankedTensorType", tensor, tensor_type)
                _call(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements", compiled, size(0), size(i),
                      ctypes.byref(requirements))
                _call(lib, "LiteRtCreateManagedTensorBufferFromRequirements", env, tensor_type, requirements,
                      ctypes.byref(buffer))
                buffers.append(buffer)
                out.append(buffer)
            return out

        inputs, outputs = make("Input"), make("Output")
        for i, buffer in enumerate(inputs):
            name = ctypes.c_char_p()
            _call(lib, "LiteRtGetSignatureInputName", signature, size(i), ctypes.byref(name))
            key = name.value.decode()
            if key not in feed:
                raise ValueError(f"op_times: the feed has no input {key!r} (it has {sorted(feed)})")
            data = np.ascontiguousarray(feed[key])
            nbytes, host = size(), P()
            _call(lib, "LiteRtGetTensorBufferSize", buffer, ctypes.byref(nbytes))
            if data.nbytes != nbytes.value:
                raise ValueError(f"op_times: input {key!r} has {data.nbytes} bytes, the model takes {nbytes.value}")
            _call(lib, "LiteRtLockTensorBuffer", buffer, ctypes.byref(host), LOCK_WRITE)
            ctypes.memmove(host, data.ctypes.data, data.nbytes)
            _call(lib, "LiteRtUnlockTensorBuffer", buffer)
        ins, outs = (P * len(inputs))(*inputs), (P * len(outputs))(*outputs)

        def run():
            _call(lib, "LiteRtRunCompiledModel", compiled, size(0), size(len(inputs)), ins, size(len(outputs)), outs)

        profiler = P()
        _call(lib, "LiteRtCompiledModelGetProfiler", compiled, ctypes.byref(profiler))
        if not profiler.value:
            raise CompatError(f"{TOUCH}: the compiled model has no profiler (enable_profiling was not taken)")
        for _ in range(warmup):
            run()
        _call(lib, "LiteRtResetProfiler", profiler)
        _call(lib, "LiteRtStartProfiler", profiler)
        for _ in range(calls):
            run()
        _call(lib, "LiteRtStopProfiler", profiler)
        count = ctypes.c_int()
        _call(lib, "LiteRtGetNumProfilerEvents", profiler, ctypes.byref(count))
        events = (_Event * count.value)()
        _call(lib, "LiteRtGetProfilerEvents", profiler, count, events)
        times = {}
        for e in events:
            if e.event_type in (OPERATOR_INVOKE_EVENT, DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT) and e.tag:
                tag = e.tag.decode()
                times[tag] = times.get(tag, 0.0) + e.elapsed_time_us / 1e3 / calls
        return times
    finally:
        for buffer in buffers:
            lib.LiteRtDestroyTensorBuffer(buffer)
        for handle, destroy in ((compiled, "LiteRtDestroyCompiledModel"), (model, "LiteRtDestroyModel"),
                                (options, "LiteRtDestroyOptions"), (env, "LiteRtDestroyEnvironment")):
            if handle.value:
                getattr(lib, destroy)(handle)
