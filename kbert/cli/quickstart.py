"""The quickstart: load the real all-MiniLM-L6-v2 checkpoint into a kbert encoder, embed a few
sentences and print their cosine similarities; then fine-tune it on a subset of 38k real
sentiment tweets (negative / neutral / positive), print the held-out accuracy and leave the model
directory (default runs/quickstart/classifier); finally export it to a phone-ready `.tflite` with
metadata (MediaPipe TextClassifier / Task Library BertNLClassifier), checked against the Keras model
on held-out real tweets by the accuracy gate, with its model card next to it.

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

# The fine-tuning step: plain `kbert finetune` settings (see kbert/cli/finetune.py).
FINETUNE = dict(task="classify", model="minilm", data="tweets", limit=3000, eval_limit=1000, seq_len=64,
                batch_size=32, epochs=2, learning_rate=1e-4, pooling="mean", dropout=0.1, patience=1)
SMOKE = dict(limit=200, eval_limit=100, seq_len=32, epochs=1)

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
        result["tflite"] = export_step(result["finetune"]["out"], args, say)
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
            "total_seconds": result["total_seconds"]}


# Smallest first; the accuracy gate refuses a mode that loses more than 1 point against Keras.
EXPORT_MODES = ("dynamic-int8", "float16", "float32")


def export_step(model_dir, args, say):
    """Export the fine-tuned classifier to TFLite in the smallest mode that passes the gate."""
    from kbert.export import tflite
    from kbert.export.accuracy_gate import AccuracyGateError

    for mode in EXPORT_MODES:
        out = os.path.join(args.out, f"sentiment_{mode}.tflite")
        try:
            r = tflite.export(model_dir, out, mode=mode, latency_runs=3 if args.smoke else 10)
        except AccuracyGateError as e:
            say(f"\n{mode}: refused by the accuracy gate ({e}); trying the next mode")
            continue
        gate = r.card["accuracy_vs_float"]
        say(f"\nphone-ready model: {out} ({r.card['size_mb']:.1f} MB, {mode}); top label agrees with Keras on "
            f"{gate['agreement']:.1%} of {gate['examples']} held-out tweets, max probability difference "
            f"{gate['max_abs_diff']:.4f}, {gate['latency_ms']:.1f} ms per tweet (2 threads)")
        say(f"model card: {os.path.splitext(out)[0]}.md   (drop the .tflite into tflite/android or tflite/ios)")
        return {"path": out, "mode": mode, "size_mb": r.card["size_mb"], "agreement": gate["agreement"]}
    raise RuntimeError("no TFLite mode passed the accuracy gate; see the messages above")
