"""What every bench script shares: provenance, side-by-side timing, targets, and writing the result.

    from bench.common import note, target, write_result
    NOTES = {"setup": "seq {seq}, batch {batch}."}        # module level, a literal dict of templates
    write_result("NAME", figures, notes=[note("setup", seq=128, batch=32)], datasets={"test_tweets": 1000})

A full run writes `bench/results/NAME.json`, a `--quick` run `bench/results/quick/NAME.json`: a quick
run can never replace a full one. A record is {"name", "date", "quick", "machine", "versions",
"provenance", "datasets", "figures", "notes", "notes_parts"}:

- `provenance`: git commit, dirty-tree flag, the script's path, sha256 and argv, `os.getloadavg()` when
  `bench.common` was imported (the script's start) and when the result was written, CPU flags that
  matter (AVX2 / AVX-512 / VNNI / BF16 / AMX), thread settings (environment, TF pools, torch).
- `notes` is rendered, never typed: each part names a template (a key of the script's module-level
  `NOTES` dict, or `common:KEY` for `TEMPLATES` below) and the measured values that fill it. Each
  target's conclusion (met / missed, by how much) is rendered the same way by `target()`.
  `check(record)` re-renders them and compares the script's sha256: a result whose script changed
  since it ran, or whose notes its templates cannot produce, is reported (tests/test_bench_results.py).

Conventions the report reads: `figures["targets"] = {name: target(...)}` becomes a targets table, a
"targets met" count in RESULTS.md's summary and rows of README's measured table; `*_ms` figures sharing
a dotted prefix become a bar chart. A bench script has an `if __name__ == "__main__":` block and
accepts `--quick` (what `kbert bench all --quick` passes).
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
QUICK = os.path.join(RESULTS, "quick")
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
              "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "KBERT_BENCH_INTER_OP")

# Templates shared by every script (referred to as "common:KEY" in notes_parts).
TEMPLATES = {
    "target_met": "{name}: met ({value:.4g} {op} {limit:.4g}).",
    "target_missed": "{name}: missed ({value:.4g}, limit {op} {limit:.4g}; off by {excess:.1%}).",
    "target_missed_by": "{name}: missed ({value:.4g}, limit {op} {limit:.4g}; off by {diff:.4g}).",
    "target_met_interval": "{name}: met (median {value:.4g}, 95% interval {lo:.4g}-{hi:.4g} over {rounds} "
                           "interleaved rounds; its {end} end {end_value:.4g} {op} {limit:.4g}).",
    "target_missed_interval": "{name}: missed (median {value:.4g}, 95% interval {lo:.4g}-{hi:.4g} over {rounds} "
                              "interleaved rounds; its {end} end {end_value:.4g} is not {op} {limit:.4g}, off by "
                              "{excess:.1%}).",
    "load": "Load average {before:.2f} at the start and {after:.2f} at the end on {cores} cores{busy}.",
    "busy": " (busy machine: absolute times are noisy; interleaved ratios less so)",
    "quick": "Quick mode: a smoke run of the same code on a smaller budget, not evidence for the claims.",
}


# ----- notes ----------------------------------------------------------------------------------------------
def note(template: str, **values) -> dict:
    """One part of a result's notes: a template key and the values that fill it."""
    return {"template": template, "values": values}


def script_templates(path: str) -> dict:
    """The literal `NOTES = {...}` dict of a bench script, read with `ast` (the script is not imported)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NOTES" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def render(parts: list, templates: dict) -> str:
    """Notes text from parts; `templates` holds the script's; `common:KEY` ones come from `TEMPLATES`."""
    out = []
    for part in parts:
        key = part["template"]
        text = TEMPLATES[key[len("common:"):]] if key.startswith("common:") else templates[key]
        out.append(text.format(**part["values"]))
    return " ".join(out)


# ----- side-by-side timing ---------------------------------------------------------------------------------
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


SETTLE_S = 0.1  # untimed work of each side before its timed calls in a round (see interleaved_rounds)


def interleaved_rounds(calls: dict, rounds: int = 5, per_round: int = 3, warmup: int = 1,
                       settle: dict | None = None, settle_s: float = SETTLE_S) -> dict:
    """{name: [median ms of each round]}: every round times `per_round` calls of each callable in turn.

    A change of machine load then hits all sides alike; ratios are taken round by round (`ratio`).
    Before its timed calls in a round each side runs untimed for `settle_s` (calls of `settle[name]` where
    given, e.g. the same runtime on a smaller input, else of the side itself; at least one call): a runtime's
    worker threads keep spinning for a while after its call returns (ONNX Runtime's intra-op pool, torch's
    OpenMP pool) and would slow whichever side is timed next, and a pool that went idle needs some work to get
    back to speed. So each side is timed as it runs on its own, back to back.
    """
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    settle = settle or {}
    out = {k: [] for k in calls}
    for _ in range(rounds):
        for k, fn in calls.items():
            warm, start = settle.get(k, fn), time.perf_counter()
            while True:
                warm()
                if time.perf_counter() - start >= settle_s:
                    break
            ts = []
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t) * 1000)
            out[k].append(statistics.median(ts))
    return out


def litert_call(content: bytes, feed: dict, threads: int = 2, output: str | None = None, latest: bool = False):
    """A no-argument callable running a flatbuffer's default signature on `feed` with LiteRT (XNNPACK), returning
    its outputs (or the one named `output`). `latest`: XNNPACK's latest features on (an opt-in of LiteRT)."""
    from kbert.export.litert import interpreter

    runner = interpreter(content, num_threads=threads, latest_features=latest).get_signature_runner()
    if output is None:
        return lambda: runner(**feed)
    return lambda: runner(**feed)[output]


def ratio(a: list, b: list, seed: int = 0, draws: int = 2000) -> dict:
    """Paired per-round ratios a/b: median and a 95% bootstrap interval of the median (seeded)."""
    rs = [x / y for x, y in zip(a, b)]
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(rs, k=len(rs))) for _ in range(draws))
    return {"median": round(statistics.median(rs), 4), "lo": round(meds[int(0.025 * draws)], 4),
            "hi": round(meds[int(0.975 * draws) - 1], 4), "rounds": len(rs)}


def bootstrap_diff(a: list, b: list, seed: int = 0, draws: int = 2000) -> dict:
    """Paired bootstrap of mean(a - b) (e.g. per-example correctness of two models): mean, 95% interval."""
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(d, k=n)) / n for _ in range(draws))
    return {"mean": round(sum(d) / n, 4), "lo": round(means[int(0.025 * draws)], 4),
            "hi": round(means[int(0.975 * draws) - 1], 4), "n": n}


# ----- targets ---------------------------------------------------------------------------------------------
def target(name: str, value: float, limit: float, better: str = "lower", interval: dict | None = None) -> dict:
    """A target and its rendered conclusion. With `interval` ({"lo", "hi", "rounds"}), it is met only when
    the interval's unfavourable end beats the limit (the upper end for lower-is-better)."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    lower = better == "lower"
    op = "<=" if lower else ">="
    value = float(value)
    check = value if interval is None else float(interval["hi"] if lower else interval["lo"])
    met = check <= limit if lower else check >= limit
    excess = 0.0 if met else (check / limit - 1 if lower else 1 - check / limit) if limit else float("inf")
    if interval is None and not met and not limit:  # a relative excess over a zero limit means nothing
        part = note("common:target_missed_by", name=name, value=value, op=op, limit=float(limit),
                    diff=round(abs(check - limit), 4))
    elif interval is None:
        part = note("common:target_met" if met else "common:target_missed", name=name, value=value, op=op,
                    limit=float(limit), excess=round(excess, 4))
    else:
        part = note("common:target_met_interval" if met else "common:target_missed_interval", name=name,
                    value=value, lo=float(interval["lo"]), hi=float(interval["hi"]), rounds=int(interval["rounds"]),
                    end="upper" if lower else "lower", end_value=check, op=op, limit=float(limit),
                    excess=round(excess, 4))
    out = {"value": value, "limit": limit, "better": better, "met": bool(met), "note": render([part], {}),
           "note_part": part}
    if interval is not None:
        out["interval"] = [float(interval["lo"]), float(interval["hi"])]
    return out


# ----- provenance ------------------------------------------------------------------------------------------
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


def cpu_flags() -> dict:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(l.split(":", 1)[1].split()) for l in f if l.startswith("flags")), set())
    except OSError:
        return {}
    return {f: f in flags for f in CPU_FLAGS}


def threads() -> dict:
    out = {"env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ}}
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        out["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        out["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


def versions() -> dict:
    """Versions of the libraries the run imported (importing more here would only cost time)."""
    out = {}
    for mod in ("kbert", "tensorflow", "keras", "keras_hub", "tensorflow_text", "numpy", "torch", "transformers",
                "onnxruntime"):
        if mod in sys.modules:
            out[mod] = getattr(sys.modules[mod], "__version__", "?")
    return out


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def git(*args) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


# what `kbert bench` itself rewrites: a change there does not make the code that measures dirty
OUTPUTS = ("bench/results/", "bench/RESULTS.md", "README.md")


def tree_status() -> str | None:
    """`git status --porcelain` of tracked files (its first line stripped by `git`), leaving out bench outputs
    (OUTPUTS); None outside git."""
    out = git("status", "--porcelain", "--untracked-files=no")
    if out is None:
        return None
    return "\n".join(l for l in out.splitlines() if not l[2:].strip().strip('"').startswith(OUTPUTS))


_START = {"loadavg": list(os.getloadavg()), "time": time.time(),  # importing bench.common = the script's start
          "commit": git("rev-parse", "HEAD"), "status": tree_status()}


def script_path(name: str) -> str:
    """The script that produced result `name`: the running `__main__` when it is a bench script."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and os.path.dirname(os.path.abspath(main)) == HERE:
        return os.path.abspath(main)
    return os.path.join(HERE, f"{name}.py")


def bench_imports(path: str) -> set:
    """Paths of the bench/ modules `path` imports anywhere in its source (also inside functions, e.g. code
    that only a child process runs), and those they import in turn."""
    found, todo = set(), [os.path.abspath(path)]
    while todo:
        with open(todo.pop(), errors="replace") as src:
            tree = ast.parse(src.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("bench.")]
            elif isinstance(node, ast.ImportFrom) and node.module == "bench":
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
                names = [node.module.split(".")[1]]
            else:
                continue
            for name in names:
                dep = os.path.join(HERE, f"{name}.py")
                if os.path.isfile(dep) and dep not in found:
                    found.add(dep)
                    todo.append(dep)
    return found


def helpers(script: str) -> dict:
    """{path: sha256} of the bench/ modules the running script uses besides itself: those imported in this
    process (bench.common, a wrapper's `__main__`, ...) and those its source imports anywhere (bench.ort in
    code only a child process runs): code that shapes its figures, checked by `status` like the script."""
    paths = bench_imports(script)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.dirname(os.path.abspath(path)) == HERE:
            paths.add(os.path.abspath(path))
    paths.discard(os.path.abspath(script))
    return {os.path.relpath(p, ROOT): sha256(p) for p in sorted(paths)}


def provenance(script: str) -> dict:
    """Commit and dirty flag (tracked changes other than bench outputs) at the script's start, and whether either
    changed before the end."""
    status, commit = _START["status"], _START["commit"]
    end_status = tree_status()
    return {"commit": commit, "dirty": None if status is None else bool(status),
            "changed_during_run": commit != git("rev-parse", "HEAD") or status != end_status,
            "script": os.path.relpath(script, ROOT), "script_sha256": sha256(script), "helpers": helpers(script),
            "argv": sys.argv[1:],
            "loadavg_before": [round(x, 2) for x in _START["loadavg"]],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "seconds": round(time.time() - _START["time"], 1), "cpu_flags": cpu_flags(), "threads": threads()}


def result_path(name: str, quick: bool, results_dir: str = RESULTS) -> str:
    return os.path.join(results_dir, "quick", f"{name}.json") if quick else os.path.join(results_dir, f"{name}.json")


def write_result(name: str, figures: dict, notes: list | None = None, quick: bool = False,
                 datasets: dict | None = None, results_dir: str = RESULTS, final: bool = True,
                 script: str | None = None) -> str:
    """Write the record of one run (full: results/NAME.json; quick: results/quick/NAME.json).

    `notes` is a list of `note(...)` parts (strings are refused: notes are rendered from templates).
    The load line and, for quick runs, the quick-mode line are added here; so is every target's
    conclusion. `final=False` writes a partial record (a long run's progress) marked `partial`.
    `script`: the file holding the NOTES templates and the code that produced the figures (default: the
    running bench script), for thin wrappers such as bench/serving_latency_finetuned.py.
    """
    if isinstance(notes, str):
        raise TypeError("notes must be note(...) parts rendered from the script's NOTES templates, not text")
    script = os.path.abspath(script) if script else script_path(name)
    prov = provenance(script)
    parts = list(notes or [])
    before, after = prov["loadavg_before"][0], prov["loadavg_after"][0]
    cores = os.cpu_count() or 1
    parts.append(note("common:load", before=before, after=after, cores=cores,
                      busy=TEMPLATES["busy"] if max(before, after) > 0.5 * cores else ""))
    if quick:
        parts.append(note("common:quick"))
    for spec in (figures.get("targets") or {}).values():
        if isinstance(spec, dict) and "note_part" in spec:
            parts.append(spec["note_part"])
    record = {
        "name": name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "partial": not final,
        "machine": machine(),
        "versions": versions(),
        "provenance": prov,
        "datasets": datasets or {},
        "figures": figures,
        "notes": render(parts, script_templates(script)),
        "notes_parts": parts,
    }
    path = result_path(name, quick, results_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2, default=float)
    os.replace(tmp, path)
    print(json.dumps({"name": name, "figures": figures}, indent=2, default=float))
    return path


# ----- checking committed results ------------------------------------------------------------------------
def status(record: dict, root: str = ROOT) -> tuple[str, list[str]]:
    """("ok" | "legacy" | "stale" | "bad", reasons) for a result record.

    legacy: written before provenance existed (re-run needed; not an error). stale: its script, or a bench
    module it uses (recorded as `helpers` since 2026-12-06), changed since it ran (sha256) or is gone. bad: notes (or a target's conclusion) that its templates cannot produce.
    """
    prov = record.get("provenance")
    if not isinstance(prov, dict):
        return "legacy", ["no provenance (written before bench.common recorded it)"]
    script = os.path.join(root, prov.get("script", ""))
    if not os.path.isfile(script):
        return "stale", [f"{prov.get('script')} no longer exists"]
    problems = []
    if sha256(script) != prov.get("script_sha256"):
        return "stale", [f"{prov['script']} changed since this result was produced (sha256 mismatch)"]
    for rel, digest in (prov.get("helpers") or {}).items():
        path = os.path.join(root, rel)
        if not os.path.isfile(path) or sha256(path) != digest:
            return "stale", [f"{rel}, which {prov['script']} imported, changed since this result was produced "
                             "(sha256 mismatch)"]
    try:
        templates = script_templates(script)
        if render(record.get("notes_parts", []), templates) != record.get("notes", ""):
            problems.append("notes differ from what the script's templates render from notes_parts")
    except (KeyError, IndexError, ValueError, TypeError) as e:
        problems.append(f"notes_parts cannot be rendered by the script's templates: {type(e).__name__}: {e}")
    for name, spec in (record.get("figures", {}).get("targets") or {}).items():
        part = spec.get("note_part") if isinstance(spec, dict) else None
        try:
            interval = spec.get("interval")
            again = target(name, spec["value"], spec["limit"], spec.get("better", "lower"),
                           None if interval is None else {"lo": interval[0], "hi": interval[1],
                                                          "rounds": part["values"]["rounds"]})
            if part is None or render([part], {}) != spec.get("note") or again["note"] != spec.get("note") \
                    or again["met"] != spec.get("met"):
                problems.append(f"target {name!r}: its verdict or conclusion is not what its figures render")
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            problems.append(f"target {name!r}: its conclusion cannot be rendered")
    return ("bad", problems) if problems else ("ok", [])
