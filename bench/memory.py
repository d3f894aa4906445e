"""Peak memory (RSS): building each preset, and training BERT-base at batch 8, seq 128.

    python -m bench.memory --quick      # the small presets + base ones, 3 training steps
    python -m bench.memory              # every preset

Each measurement runs in a fresh subprocess and reads its own peak with
`resource.getrusage(RUSAGE_SELF).ru_maxrss` (KiB on Linux), so one model's memory never counts
towards another's. `baseline` is the peak of a child that only imports TensorFlow, Keras and kbert;
`*_over_baseline_mb` subtracts it. Float32 weights alone take 4 bytes per parameter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench.common import note, write_result

QUICK_PRESETS = ("bert_base", "albert_base")
NOTES = {
    "setup": "ru_maxrss of a fresh child per measurement (Linux, KiB -> MiB). Training: classifier on bert_base, "
             "AdamW (weights + 2 moments + gradients = 4x the weights before activations), batch {batch}, seq {seq}, "
             "{steps} steps of model.fit on synthetic ids. {seconds:.0f} s in all.",
}


def child(what: str, preset: str | None, batch: int, seq: int, steps: int) -> dict:
    import resource

    import kbert

    params = None
    if what == "build":
        params = kbert.models.backbone(preset).count_params()
    elif what == "train":
        import numpy as np

        from kbert.tasks.classifier import build_classifier, compile_classifier

        model = compile_classifier(build_classifier(kbert.models.backbone(preset), num_classes=2))
        params = model.count_params()
        rng = np.random.default_rng(0)
        n = batch * steps
        x = {"token_ids": rng.integers(5, 30000, (n, seq)).astype("int32"),
             "padding_mask": np.ones((n, seq), "int32"), "segment_ids": np.zeros((n, seq), "int32")}
        model.fit(x, {"logits": rng.integers(0, 2, (n,))}, batch_size=batch, epochs=1, verbose=0)
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "params": params}


def measure(what: str, preset: str | None = None, batch: int = 8, seq: int = 128, steps: int = 3) -> dict:
    cmd = [sys.executable, "-m", "bench.memory", "--child", what, "--preset", preset or "",
           "--batch", str(batch), "--seq", str(seq), "--steps", str(steps)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith(("I0000", "E0000", "WARNING"))]
        return {"error": f"exit {r.returncode}: " + " | ".join(tail[-2:])[:300]}
    return json.loads(lines[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--preset", default="")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=None)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.preset or None, args.batch, args.seq, args.steps or 3)))
        return 0

    from kbert.presets import PRESETS

    t0 = time.time()
    baseline = measure("import")
    base_mb = baseline.get("peak_rss_mb", 0.0)
    figures = {"baseline_import_mb": round(base_mb, 1), "build": {}}
    presets = QUICK_PRESETS if args.quick else tuple(PRESETS)
    for name in presets:
        r = measure("build", name)
        if "error" in r:
            figures["build"][name] = {"error": r["error"]}
        else:
            figures["build"][name] = {"peak_rss_mb": round(r["peak_rss_mb"], 1),
                                      "over_baseline_mb": round(r["peak_rss_mb"] - base_mb, 1),
                                      "weights_mb": round(r["params"] * 4 / 2**20, 1)}
        print(name, figures["build"][name], flush=True)
    steps = args.steps or (2 if args.quick else 10)
    r = measure("train", "bert_base", args.batch, args.seq, steps)
    figures["train_bert_base"] = r if "error" in r else {
        "batch": args.batch, "seq_len": args.seq, "steps": steps, "peak_rss_mb": round(r["peak_rss_mb"], 1),
        "over_baseline_mb": round(r["peak_rss_mb"] - base_mb, 1), "weights_mb": round(r["params"] * 4 / 2**20, 1)}
    print("train bert_base", figures["train_bert_base"], flush=True)
    notes = [note("setup", batch=args.batch, seq=args.seq, steps=steps, seconds=round(time.time() - t0))]
    write_result("memory", figures, notes, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
