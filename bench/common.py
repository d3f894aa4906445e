"""What every bench script shares: machine/version stamp and writing bench/results/NAME.json.

    from bench.common import write_result, timeit
    write_result("tflite_sizes", {"float32_mb": 86.1, ...})

Each script prints its figures and writes `bench/results/NAME.json` = {"name", "date", "machine",
"versions", "figures", "notes"}. `kbert bench` gathers them into bench/RESULTS.md. Ratios are
always measured side by side in the same run.

Conventions the report reads: `figures["targets"] = {name: {"value": v, "limit": l, "met": bool,
"note": str}}` becomes a targets table and a "targets met" count in RESULTS.md's summary;
`*_ms` figures sharing a dotted prefix become a bar chart. A bench script has an
`if __name__ == "__main__":` block and accepts `--quick` (what `kbert bench all --quick` passes).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def versions() -> dict:
    out = {}
    for mod in ("kbert", "tensorflow", "keras", "keras_hub", "tensorflow_text", "numpy", "torch", "transformers"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception:
            pass
    return out


def timeit(fn, repeats: int = 10, warmup: int = 2) -> dict:
    """Median / min wall time of fn() in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "repeats": repeats}


def write_result(name: str, figures: dict, notes: str = "", quick: bool = False) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    record = {
        "name": name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "versions": versions(),
        "figures": figures,
        "notes": notes,
    }
    path = os.path.join(RESULTS, f"{name}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=2, default=float)
    print(json.dumps({"name": name, "figures": figures}, indent=2, default=float))
    return path
