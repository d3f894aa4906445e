"""Reading back a TensorFlow profiler trace: the per-op events of a run traced with
`tf.profiler.experimental.start(logdir)` / `stop()` (for an XLA-compiled function, one event per HLO thunk on
the thread that ran it). TF writes the trace as `*.xplane.pb`, an `XSpace` protobuf whose schema TF ships only as
its private `tensorflow.tsl.profiler.protobuf.xplane_pb2` (TensorBoard's profile plugin reads the same file).
"""

from __future__ import annotations

import glob
import importlib
import os

from kbert._compat import CompatError, check

TOUCH = "reading a TensorFlow profiler trace (xplane.pb)"


def _xplane_pb2():
    check("tensorflow", TOUCH)
    try:
        return importlib.import_module("tensorflow.tsl.profiler.protobuf.xplane_pb2")
    except ImportError as e:
        raise CompatError(f"{TOUCH}: this tensorflow has no tensorflow.tsl.profiler.protobuf.xplane_pb2") from e


def xplane_files(logdir: str) -> list[str]:
    """The `.xplane.pb` traces TF wrote under `logdir` (one per profiling session and host)."""
    return sorted(glob.glob(os.path.join(os.fspath(logdir), "**", "*.xplane.pb"), recursive=True))


def host_events(path: str) -> list[tuple[int, str, str, int, int]]:
    """(thread id, thread name, event name, start offset within its thread's line, duration), times in picoseconds,
    of every event on the host CPU plane of a trace."""
    space = _xplane_pb2().XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    out = []
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            out += [(int(line.id), line.name, names.get(e.metadata_id, "?"), int(e.offset_ps), int(e.duration_ps))
                    for e in line.events]
    return out
