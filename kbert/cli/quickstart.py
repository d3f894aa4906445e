"""The quickstart: load the real all-MiniLM-L6-v2 checkpoint into a kbert encoder, embed a few
sentences and print their cosine similarities; then fine-tune it on a subset of 38k real
sentiment tweets (negative / neutral / positive), print the held-out accuracy and leave the model
directory (default runs/quickstart/classifier); finally export it to a phone-ready `.tflite` with
metadata for MediaPipe TextClassifier / LiteRT, in the smallest mode that passes the accuracy gate on
the 1,000 validation tweets (paired non-inferiority: the upper end of the 95% interval of the accuracy
drop is at most 1 point; MediaPipe on the raw strings must label them as Keras does), at the length
it was trained at, with its deployment card next to it; a table shows every mode tried.

The default subset (3,000 training tweets, 2 epochs, 64 tokens, 1,000 validation and 1,000 test
tweets) is sized for about 10 minutes on 2 free CPU cores: measured 1.9 CPU-seconds per training step
(batch 32) and 0.8 per 32 predictions, i.e. ~8 CPU-minutes in all, 4-8 minutes of wall time on two
cores. --smoke (200 tweets, one epoch of 32 tokens) used 48 CPU-seconds for the whole command,
embedding demo included. (Measured on the shared build machine, whose wall times are meaningless.)

examples:
  kbert quickstart
  kbert quickstart --smoke --out /tmp/qs
  kbert quickstart --train-size 8000 --epochs 3
  make quickstart
"""

import os

from kbert.recipes.quickstart import FINETUNE, SMOKE  # the fine-tuning step's settings

SENTENCES = [
    "The cat sat quietly on the warm windowsill.",
    "A kitten was resting by the sunny window.",
    "Stock markets fell sharply after the announcement.",
    "Investors sold shares as prices dropped.",
]


def add_arguments(p):
    p.add_argument("--checkpoint", help="checkpoint folder (default: the real MiniLM, fetched on first use)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--out", default=os.path.join("runs", "quickstart"), help="output folder (default runs/quickstart)")
    p.add_argument("--train-size", type=int, default=FINETUNE["limit"], help="training tweets (default %(default)s)")
    p.add_argument("--epochs", type=int, default=FINETUNE["epochs"])
    p.add_argument("--smoke", action="store_true", help="tiny subset, < 1 minute of training (for tests)")
    p.add_argument("--skip-finetune", action="store_true", help="only the embedding demo")


def run(args):
    import time

    import numpy as np

    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.preprocessing import preprocessor_for
    from kbert.presets import count_params
    from kbert.tasks.embedder import build_embedder

    say = (lambda *a: None) if args.quiet else print
    path = args.checkpoint or assets.minilm_dir()
    t0 = time.time()
    ckpt = load_hf(path)
    say(f"loaded {ckpt.family} checkpoint {path}")
    say(f"  {ckpt.config['num_layers']} layers, hidden {ckpt.config['hidden_dim']}, "
        f"{count_params(ckpt.family, ckpt.config):,} parameters, {time.time() - t0:.1f}s")
    embedder = build_embedder(ckpt.backbone)
    pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=args.seq_len)
    emb = embedder(pre(SENTENCES))["embeddings"].numpy()
    sims = emb @ emb.T
    say("\nembeddings (first 6 of %d dims):" % emb.shape[1])
    for s, e in zip(SENTENCES, emb):
        say(f"  [{' '.join(f'{v:+.3f}' for v in e[:6])} ...]  {s}")
    say("\ncosine similarity:")
    for i, s in enumerate(SENTENCES):
        say(f"  {i}: " + " ".join(f"{sims[i, j]:.2f}" for j in range(len(SENTENCES))) + f"   {s[:40]}")
    pairs = [(sims[0, 1], "cat ~ kitten"), (sims[2, 3], "markets ~ investors"), (sims[0, 2], "cat ~ markets")]
    for value, name in pairs:
        say(f"  {name:<22} {value:.3f}")
    ok = sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[1, 3]
    say("\nrelated sentences are closer than unrelated ones:", "yes" if ok else "NO")
    result = {"similarity": np.round(sims, 4).tolist(), "related_closer": bool(ok)}
    if not args.skip_finetune:
        result["finetune"] = finetune_step(args, say)
        result["tflite"] = export_step(result["finetune"]["out"], args, say, result["finetune"].pop("config"))
    if args.json:
        import json

        print(json.dumps(result))
    return 0 if ok else 1


def finetune_step(args, say):
    """Fine-tune MiniLM on sentiment tweets; returns the held-out figures and the model dir."""
    from kbert.cli import finetune
    from kbert.cli.finetune import DEFAULTS

    config = {**DEFAULTS, **FINETUNE, "limit": args.train_size, "epochs": args.epochs, "seq_len": args.seq_len,
              **(SMOKE if args.smoke else {})}
    if args.checkpoint:
        config["model"] = args.checkpoint
    out = os.path.join(args.out, "classifier")
    say(f"\nfine-tuning on {config['limit']} sentiment tweets for {config['epochs']} epoch(s) "
        f"(seq_len {config['seq_len']}) -> {out}")
    result = finetune.finetune(config, out, say=say, verbose=0 if args.quiet or args.json else 2)
    test = result["test"]
    say(f"held-out accuracy: {test['accuracy']:.3f} (macro-F1 {test['macro_f1']:.3f}, {test['n']} tweets; "
        f"majority class {max(sum(r) for r in test['confusion_matrix']) / test['n']:.3f}); "
        f"training took {result['train_seconds']:.0f}s, everything {result['total_seconds']:.0f}s")
    say(f"model directory for export: {out}")
    return {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"], "n": test["n"], "out": out,
            "train_seconds": result["train_seconds"], "train_cpu_seconds": result["train_cpu_seconds"],
            "total_seconds": result["total_seconds"], "config": config}


# Smallest first (MediaPipe / LiteRT: per-channel dynamic int8 ~0.26x float32); the first that passes ships.
EXPORT_MODES = ("dynamic-int8", "float16", "float32")


def validation_split(config):
    """(texts, label names of each) of the recipe's validation split, as fine-tuning drew it."""
    try:
        from kbert.recipes.finetune import splits
    except ImportError:
        from kbert.cli.finetune import splits
    val = splits(config)[1]
    return list(val.texts), [val.label_names[int(i)] for i in val.y]


def export_step(model_dir, args, say, config):
    """Export the fine-tuned classifier in the smallest mode that passes the gate on the validation split."""
    from kbert.export import tflite
    from kbert.export.accuracy_gate import AccuracyGateError
    from kbert.model_dir import read_meta

    labels = read_meta(model_dir)["labels"]
    texts, names = validation_split(config)
    ids = [labels.index(n) for n in names]
    say(f"\nexporting to TFLite for MediaPipe / LiteRT; gate: {len(texts)} validation tweets, accuracy drop "
        "<= 1 point at the upper end of its 95% interval")
    rows, reference, shipped = [], None, None
    for mode in EXPORT_MODES:
        out = os.path.join(args.out, f"sentiment_{mode}.tflite")
        try:
            r = tflite.export(model_dir, out, mode=mode, heldout=texts, heldout_labels=ids, reference=reference,
                              latency_runs=3 if args.smoke else 10, training_data=config["data"])
            card, passed = r.card, True
        except AccuracyGateError as e:
            card, passed = e.card, False
            r = e
        reference = r.reference
        rows.append(_row(mode, card, passed))
        if passed:
            shipped = {"path": out, "mode": mode, "size_mb": card["size_mb"],
                       "agreement": card["accuracy_vs_float"]["agreement"],
                       "metric_drop_ci95": card["accuracy_vs_float"]["metric_drop_ci95"],
                       "examples": card["accuracy_vs_float"]["examples"], "seq_len": card["seq_len"],
                       "seq_len_source": card.get("seq_len_source"), "runtime_checks": card["runtime_checks"], "modes": rows}
            break
    say(table(rows))
    if shipped is None:
        raise RuntimeError("no TFLite mode passed the accuracy gate; see the table above")
    say(f"\nphone-ready model: {shipped['path']} ({shipped['size_mb']:.1f} MB, {shipped['mode']}, seq_len "
        f"{shipped['seq_len']}: {shipped['seq_len_source']})")
    say(f"deployment card: {os.path.splitext(shipped['path'])[0]}.md   (drop the .tflite into tflite/android or tflite/ios)")
    return shipped


def _row(mode, card, passed):
    rep = card["accuracy_vs_float"]
    lo, hi = rep.get("metric_drop_ci95", [float("nan")] * 2)
    check = next(iter(card.get("runtime_checks", {}).values()), {})
    return {"mode": mode, "size_mb": card["size_mb"], "tflite_accuracy": rep.get("tflite_metric"),
            "keras_accuracy": rep.get("keras_metric"), "drop_points": rep["metric_drop_points"], "ci95": [lo, hi],
            "agreement": rep.get("agreement_excluding_ties"), "near_ties": rep.get("near_ties"),
            "latency_ms": rep.get("latency_ms"), "raw_strings_same_label": check.get("same_label_as_keras"),
            "passed": passed}


def table(rows) -> str:
    head = f"\n{'mode':<13} {'size MB':>8} {'accuracy':>9} {'drop (95% interval), points':>30} {'agreement':>10} " \
           f"{'latency ms':>10}  gate"
    lines = [head, "-" * len(head.strip())]
    for r in rows:
        interval = f"{r['drop_points']:+.2f} ({r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f})"
        lines.append(f"{r['mode']:<13} {r['size_mb']:>8.1f} {r['tflite_accuracy'] or float('nan'):>9.3f} "
                     f"{interval:>30} {r['agreement'] or float('nan'):>10.3f} {r['latency_ms'] or float('nan'):>10.1f}"
                     f"  {'passed' if r['passed'] else 'refused'}")
    return "\n".join(lines)
