"""Size, latency and accuracy of each TFLite mode (seq 128, batch 1, 2 threads, one run).

    python -m bench.tflite_modes [--quick]

Models: all-MiniLM-L6-v2 (real weights, head trained on real tweets: also accuracy per mode),
BERT-base, DistilBERT-base, ALBERT-base (random weights: size/latency only). Baseline: `transformers`
torch CPU BertForSequenceClassification (bert-base config), same input, 2 threads.
Latency: median of `invoke()` in the LiteRT interpreter (`ai_edge_litert`, XNNPACK default delegate); for the int8
modes also with `experimental_default_delegate_latest_features=True` (XNNPACK's newer kernels).
The latencies the claims compare (BERT-base float32 / int8 modes, DistilBERT float32, torch) are
measured again at the end **interleaved**: one call of each in turn, `ROUNDS` times, medians, so a
change of machine load hits every side alike (`figures["side_by_side_ms"]`).
Claims checked: int8 file <= 0.26x float32; ALBERT file <= 1.0x parameter bytes; DistilBERT
latency <= 0.55x BERT-base; BERT-base int8 latency vs torch (target <= 0.5x); modes lose <= 1 point.

ONNX Runtime, int8 vs int8 (quick: MiniLM; full: MiniLM and BERT-base): the same architecture as a
`transformers` *ForSequenceClassification exported to ONNX, optimized and dynamically quantized
(bench/ort.py), against kbert's dynamic-int8 TFLite, batch 1, 2 threads, in `ORT_ROUNDS` interleaved
rounds with torch and ORT fp32 beside them; target: kbert int8 TFLite / ORT int8 <= 1.0, met only when
the upper end of its 95% interval is.
"""

from __future__ import annotations

import argparse
import time

from bench.common import interleaved_rounds, note, ratio, target, timeit, write_result

SEQ = 128
THREADS = 2
ROUNDS = 15
ORT_ROUNDS = 7
NOTES = {
    "setup": "Per-mode latencies: medians of 10 runs, taken minutes apart; claim ratios come from interleaved "
             "medians. Random weights for BERT/DistilBERT/ALBERT-base; MiniLM real with a head trained on 400 real "
             "tweets; accuracy on {n} held-out real tweets and {n} gensim movie-review sentences. ONNX Runtime side "
             "by side: {ort_rounds} interleaved rounds of {per_round} calls each (models: {ort_models}).",
    "no_ort": "ONNX Runtime not measured: {reason}.",
}


def interp_call(content, feed, latest=False):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=content, num_threads=THREADS,
                         experimental_default_delegate_latest_features=latest)
    interp.allocate_tensors()
    runner = interp.get_signature_runner()
    return lambda: runner(**feed)


def interp_latency(content, feed, latest=False, repeats=10):
    return timeit(interp_call(content, feed, latest), repeats=repeats, warmup=2)["median_ms"]


def torch_call():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.set_num_threads(THREADS)
    model = BertForSequenceClassification(BertConfig(num_labels=2)).eval()
    ids = torch.randint(1000, 20000, (1, SEQ))
    mask = torch.ones(1, SEQ, dtype=torch.long)

    def call():
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    return call


def interleaved(calls: dict, rounds: int = ROUNDS, warmup: int = 2) -> dict:
    """{name: median ms} timing one call of each in turn per round (load changes hit all alike)."""
    import statistics

    times = {k: [] for k in calls}
    for r in range(warmup + rounds):
        for k, fn in calls.items():
            t = time.perf_counter()
            fn()
            if r >= warmup:
                times[k].append((time.perf_counter() - t) * 1000)
    return {k: round(statistics.median(v), 1) for k, v in times.items()}


def ort_side_by_side(models, side: dict, feed: dict, targets: dict) -> dict:
    """kbert's dynamic-int8 TFLite vs ORT int8 (and torch, ORT fp32), batch 1, interleaved rounds."""
    import tempfile

    import torch
    import transformers

    from bench import ort

    torch.set_num_threads(THREADS)
    out = {}
    ids, mask = feed["ids"], feed["mask"]  # representative_inputs names them so (TFLite signature)
    for name in models:
        if name == "minilm_l6":
            from kbert import assets

            torch_model = transformers.BertForSequenceClassification.from_pretrained(assets.minilm_dir(), num_labels=2)
        else:
            torch.manual_seed(0)
            torch_model = transformers.BertForSequenceClassification(transformers.BertConfig(num_labels=2))
        torch_model.eval()
        with tempfile.TemporaryDirectory() as tmp:
            sessions = ort.ort_sessions(torch_model, tmp, threads=THREADS)
        t_ids, t_mask = torch.from_numpy(ids).long(), torch.from_numpy(mask).long()

        def run_torch():
            with torch.inference_mode():
                return torch_model(input_ids=t_ids, attention_mask=t_mask).logits

        calls = {"tflite_dynamic_int8": interp_call(side[f"{name} dynamic-int8"], feed), "torch": run_torch,
                 "ort_fp32": ort.feed_fn(sessions["ort_fp32"], ids, mask),
                 "ort_int8": ort.feed_fn(sessions["ort_int8"], ids, mask)}
        times = interleaved_rounds(calls, rounds=ORT_ROUNDS, per_round=3, warmup=2)
        row = {f"{k}_ms": round(sorted(v)[len(v) // 2], 2) for k, v in times.items()}
        for a, b in (("tflite_dynamic_int8", "ort_int8"), ("tflite_dynamic_int8", "torch"), ("ort_int8", "torch"),
                     ("ort_fp32", "torch")):
            r = ratio(times[a], times[b])
            row[f"{a}_vs_{b}"], row[f"{a}_vs_{b}_interval"] = r["median"], [r["lo"], r["hi"]]
        r = ratio(times["tflite_dynamic_int8"], times["ort_int8"])
        key = f"{name} batch 1: kbert int8 TFLite / ORT int8"
        targets[key] = target(key, r["median"], 1.0, interval=r)
        out[name] = row
        print("onnxruntime", name, row, flush=True)
        del sessions, torch_model
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="MiniLM only, fewer sentences")
    ap.add_argument("--base-only", action="store_true",
                    help="only the random-weight base models, float32 + dynamic-int8 (result tflite_modes_base)")
    args = ap.parse_args(argv)

    import keras

    import kbert
    from bench.tflite_data import heldout_sentences, heldout_tweets, minilm_sentiment_classifier
    from kbert.export import accuracy_gate, tflite
    from kbert.tasks.classifier import build_classifier

    t0 = time.time()
    clf, tok = minilm_sentiment_classifier(seq_len=SEQ)
    rep = accuracy_gate.default_inputs(tok, "classify", SEQ, None, kind="representative")[:32]
    feed = rep[0]
    n = 30 if args.quick else 100
    sets = {"tweets": heldout_tweets(n), "movie_reviews": heldout_sentences(n)}
    figures = {"seq_len": SEQ, "threads": THREADS, "models": {}}
    result_name = "tflite_modes_base" if args.base_only else "tflite_modes"

    models = [] if args.base_only else [("minilm_l6", clf)]
    if not args.quick:
        for preset in ("bert_base", "distilbert_base", "albert_base"):
            keras.utils.set_random_seed(0)
            models.append((preset, build_classifier(kbert.models.backbone(preset), num_classes=2)))
    plan = {"minilm_l6": ["float32", "dynamic-int8", "dynamic-int8-per-channel", "int8", "float16", "mixed"],
            "bert_base": ["float32", "dynamic-int8", "int8", "float16"],
            "distilbert_base": ["float32", "dynamic-int8", "int8"],
            "albert_base": ["float32", "dynamic-int8", "int8"]}
    if args.quick:  # the modes the gate can ship; int8 / mixed need calibration and lose accuracy anyway
        plan["minilm_l6"] = ["float32", "float16", "dynamic-int8"]
    side = {}  # (model, mode[, latest]) -> flatbuffer, for the interleaved claim latencies
    for name, model in models:
        modes = plan[name] if not args.base_only else ["float32", "dynamic-int8"][: 2 if name == "bert_base" else 1]
        row = {"params": int(model.count_params()), "param_bytes_fp32": int(4 * model.count_params())}
        wrapper = tflite.mobile_model(model, "classify", SEQ)
        for mode in modes:
            base_mode = "dynamic-int8" if mode.startswith("dynamic-int8") else mode
            t = time.time()
            content = tflite.convert(model, base_mode, "classify", SEQ, representative=rep,
                                     per_channel=mode.endswith("per-channel"))
            m = {"size_mb": round(len(content) / 1e6, 2), "convert_s": round(time.time() - t, 1),
                 "latency_ms": round(interp_latency(content, feed), 1)}
            if "int8" in mode or mode == "mixed":
                m["latency_ms_xnnpack_latest"] = round(interp_latency(content, feed, latest=True), 1)
            if name == "minilm_l6":
                for set_name, (texts, ys) in sets.items():
                    inputs = accuracy_gate.default_inputs(tok, "classify", SEQ, texts)
                    r = accuracy_gate.compare(wrapper, content, inputs, "classify", labels=ys, latency_runs=0)
                    m[set_name] = {k: round(r[k], 4) for k in ("agreement", "agreement_excluding_ties",
                                                                "max_abs_diff", "mean_abs_diff",
                                                                "keras_accuracy", "tflite_accuracy",
                                                                "metric_drop_points")}
                    m[set_name]["metric_drop_ci95"] = [round(x, 3) for x in r["metric_drop_ci95"]]
            row[mode] = m
            print(name, mode, m, f"{time.time() - t0:.0f}s", flush=True)
            if (name, mode) in (("bert_base", "float32"), ("bert_base", "dynamic-int8"), ("bert_base", "int8"),
                                ("distilbert_base", "float32"), ("distilbert_base", "dynamic-int8"),
                                ("minilm_l6", "dynamic-int8")):
                side[f"{name} {mode}"] = content
            del content
        f32 = row["float32"]["size_mb"]
        if "int8" in row:
            row["int8_size_ratio"] = round(row["int8"]["size_mb"] / f32, 3)
        if "dynamic-int8" in row:
            row["dynamic_int8_size_ratio"] = round(row["dynamic-int8"]["size_mb"] / f32, 3)
        row["float32_file_over_param_bytes"] = round(row["float32"]["size_mb"] * 1e6 / row["param_bytes_fp32"], 3)
        figures["models"][name] = row
        write_result(result_name, figures, [], quick=args.quick, final=False)
    if not args.quick and not args.base_only:
        calls = {"torch bert_base": torch_call()}
        for key, content in side.items():
            calls[key] = interp_call(content, feed)
            if "int8" in key:
                calls[key + " xnnpack_latest"] = interp_call(content, feed, latest=True)
        ms = interleaved(calls)
        figures["side_by_side_ms"] = ms
        print("interleaved medians (ms):", ms, flush=True)
        torch_ms = ms["torch bert_base"]
        bb = figures["models"]["bert_base"]
        int8_keys = [k for k in ms if k.startswith("bert_base") and "int8" in k]
        best = min(int8_keys, key=ms.get)
        figures["claims"] = {
            "dynamic_int8_size_ratio_bert_base": bb.get("dynamic_int8_size_ratio"),
            "int8_size_ratio_bert_base": bb.get("int8_size_ratio"),
            "albert_file_over_param_bytes": figures["models"]["albert_base"]["float32_file_over_param_bytes"],
            "distilbert_over_bert_latency_fp32": round(ms["distilbert_base float32"] / ms["bert_base float32"], 3),
            "distilbert_over_bert_latency_dynamic_int8": round(
                ms["distilbert_base dynamic-int8"] / ms["bert_base dynamic-int8"], 3),
            "bert_base_dynamic_int8_over_torch": round(ms["bert_base dynamic-int8"] / torch_ms, 3),
            "bert_base_best_int8_over_torch": round(ms[best] / torch_ms, 3),
            "bert_base_best_int8_path": best,
        }
        c = figures["claims"]
        t = figures.setdefault("targets", {})
        for key, limit in (("int8_size_ratio_bert_base", 0.26), ("albert_file_over_param_bytes", 1.0),
                           ("distilbert_over_bert_latency_fp32", 0.55), ("bert_base_best_int8_over_torch", 0.5)):
            t[key] = target(key, c[key], limit)
    notes = []
    ort_models = [] if args.base_only else ["minilm_l6"] + ([] if args.quick else ["bert_base"])
    from bench import ort

    reason = ort.available()
    if reason is None and ort_models:
        figures["onnxruntime"] = ort_side_by_side(ort_models, side, feed, figures.setdefault("targets", {}))
    elif ort_models:
        notes.append(note("no_ort", reason=reason))
    notes.insert(0, note("setup", n=n, ort_rounds=ORT_ROUNDS, per_round=3, ort_models=", ".join(ort_models) or "none"))
    write_result(result_name, figures, notes, quick=args.quick)


if __name__ == "__main__":
    main()
