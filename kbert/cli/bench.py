"""Run kbert's benchmark scripts (`bench/*.py`) and regenerate bench/RESULTS.md with tables and charts.

Each script runs alone in its own Python process (`python -m bench.NAME [--quick]`), one at a time, so
that one script's threads, memory or crash never touch another's figures. A script that fails is
reported and the others still run; the exit code is then 1. RESULTS.md and README's measured table
(between its `kbert-bench:measured` markers) are rebuilt from every `bench/results/*.json` (full runs)
and `bench/results/quick/*.json` (quick runs) at the end, including results of scripts not run this
time. A quick run writes only under results/quick/, so it never replaces a full result.

examples:
  kbert bench --list                      # every script, with the state of its full and quick results
  kbert bench all --stale                 # only the scripts whose full result is missing, legacy or stale
  kbert bench all --quick                 # every script, quick mode
  kbert bench encoder_latency memory --quick
  kbert bench --report-only               # just rebuild RESULTS.md and README's table from the JSONs
"""

import os
import sys

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
NOT_SCRIPTS = {"__init__", "common", "report"}


def discover(bench_dir: str | None = None) -> list[str]:
    """Names of the runnable bench scripts: `bench/NAME.py` files with a `__main__` block, sorted."""
    bench_dir = bench_dir or BENCH_DIR
    names = []
    for f in sorted(os.listdir(bench_dir)):
        name, ext = os.path.splitext(f)
        if ext == ".py" and name not in NOT_SCRIPTS and not name.startswith("_") and name.isidentifier():
            with open(os.path.join(bench_dir, f), errors="replace") as src:
                if "__main__" in src.read():  # shared helpers such as bench/tflite_data.py have no main
                    names.append(name)
    return names


def add_arguments(p):
    p.add_argument("names", nargs="*", default=["all"], metavar="NAME",
                   help="bench scripts to run (file names in bench/ without .py), or 'all' (default)")
    p.add_argument("--quick", action="store_true", help="pass --quick to every script (smaller, faster runs)")
    p.add_argument("--list", action="store_true",
                   help="list the bench scripts with the state of their full and quick results, and exit")
    p.add_argument("--stale", action="store_true",
                   help="of the named scripts, run only those whose result (full, or quick with --quick) is "
                        "missing, legacy or stale: what a re-run across sessions has left")
    p.add_argument("--report-only", action="store_true",
                   help="do not run anything; rebuild RESULTS.md and README's measured table")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds allowed per script (default: none; 900 with --quick)")


def run_script(name: str, quick: bool, timeout: float | None, log_path: str, bench_dir: str | None = None) -> dict:
    """Run one script in a subprocess, output to `log_path`; returns {name, ok, returncode, seconds, tail}."""
    import subprocess
    import time

    bench_dir = bench_dir or BENCH_DIR
    root = os.path.dirname(bench_dir)
    cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if quick else [])
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    t = time.time()
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "w") as log:
        try:
            code = subprocess.run(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = None
    with open(log_path, errors="replace") as log:
        lines = [l.rstrip() for l in log if not l.startswith(("I0000", "E0000", "WARNING: All"))]
    tail = "\n".join(lines[-15:])
    if code is None:
        tail += f"\n(timed out after {timeout:.0f} s)"
    return {"name": name, "ok": code == 0, "returncode": code, "seconds": round(time.time() - t, 1), "tail": tail}


def run(args):
    import json
    import time

    from kbert.errors import KbertInputError

    sys.path.insert(0, os.path.dirname(BENCH_DIR))
    from bench import report

    results = os.path.join(BENCH_DIR, "results")
    readme = os.path.join(os.path.dirname(BENCH_DIR), "README.md")
    readme = readme if os.path.exists(readme) else None

    available = discover()
    if args.list or args.stale:
        records = report.load(results)
        states = {q: report.script_status(records, available, q) for q in (False, True)}
    if args.list:
        width = max(map(len, available))
        for name in available:
            full, quick = (states[q][name] for q in (False, True))
            print(f"{name:{width}}  full: {full[0]:7}  quick: {quick[0]}")
        return 0
    if args.report_only:
        path = report.generate(results, readme=readme)
        if not args.quiet:
            print(f"wrote {path}")
        return 0
    names = available if "all" in args.names else args.names
    unknown = [n for n in names if n not in available]
    if unknown:
        raise KbertInputError(f"unknown bench script(s): {', '.join(unknown)}; available: {', '.join(available)}")
    if args.stale:
        names = [n for n in names if states[args.quick][n][0] != "ok"]
        if not args.quiet and not args.json:
            print(f"{len(names)} script(s) left to run{' --quick' if args.quick else ''}: {', '.join(names) or 'none'}")
    timeout = args.timeout if args.timeout is not None else (900 if args.quick else None)
    logs = os.path.join(os.path.dirname(BENCH_DIR), "runs", "bench-logs")  # git-ignored
    outcomes, start = [], time.time()
    for i, name in enumerate(names, 1):
        if not args.quiet and not args.json:
            print(f"[{i}/{len(names)}] {name}{' --quick' if args.quick else ''} ...", flush=True)
        out = run_script(name, args.quick, timeout, os.path.join(logs, f"{name}.log"))
        outcomes.append(out)
        if not args.json:
            status = "ok" if out["ok"] else f"FAILED (exit {out['returncode']})"
            if not args.quiet or not out["ok"]:
                print(f"[{i}/{len(names)}] {name}: {status} in {out['seconds']} s", flush=True)
            if not out["ok"]:
                print("    " + out["tail"].replace("\n", "\n    "), file=sys.stderr)
    path = report.generate(results, readme=readme)
    failed = [o["name"] for o in outcomes if not o["ok"]]
    if args.json:
        print(json.dumps({"ok": not failed, "failed": failed, "report": path, "seconds": round(time.time() - start, 1),
                          "runs": [{k: v for k, v in o.items() if k != "tail"} for o in outcomes]}))
    elif not args.quiet:
        print(f"{len(names) - len(failed)}/{len(names)} scripts ok in {time.time() - start:.0f} s; wrote {path}")
        if failed:
            print(f"failed: {', '.join(failed)} (logs in {logs})")
    return 1 if failed else 0


def validate(args):
    """`kbert bench` runs the scripts of a source checkout: from an installed wheel there are none."""
    from kbert.errors import KbertInputError

    if not os.path.isfile(os.path.join(BENCH_DIR, "report.py")):
        raise KbertInputError(
            f"kbert bench needs the bench/ scripts of a source checkout, and there is none at {BENCH_DIR} "
            "(an installed wheel does not ship them): clone the repository, `pip install -e .` there and run "
            "`kbert bench` from it"
        )
