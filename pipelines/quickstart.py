"""The quickstart: load the real all-MiniLM-L6-v2 checkpoint into a kbert encoder, embed a few
sentences and print their cosine similarities.

examples:
  kbert quickstart
  make quickstart
"""

SENTENCES = [
    "The cat sat quietly on the warm windowsill.",
    "A kitten was resting by the sunny window.",
    "Stock markets fell sharply after the announcement.",
    "Investors sold shares as prices dropped.",
]


def add_arguments(p):
    p.add_argument("--checkpoint", help="checkpoint folder (default: the real MiniLM, fetched on first use)")
    p.add_argument("--seq-len", type=int, default=64)


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
    if args.json:
        import json

        print(json.dumps({"similarity": np.round(sims, 4).tolist(), "related_closer": bool(ok)}))
    return 0 if ok else 1
