"""Size, latency and accuracy of each TFLite mode (MiniLM at seq 64 and 128, base models at 128; batch 1,
2 threads, one run).

    python -m bench.tflite_modes [--quick]

Full run: about 18 minutes on 2 idle cores (estimated from its pieces: fine-tuning ~4, MiniLM modes ~7,
base models ~4.5, ONNX Runtime ~2.5); quick: a few minutes.

Models: all-MiniLM-L6-v2 fine-tuned on the tweets with kbert's recipe (`kbert.recipes.finetune`,
a fixed seeded training subset, 64 tokens), every mode at seq 64 and 128: file size, the test split's
accuracy with its 95% interval, the gate's figures on the validation split (>= 1,000 tweets in the
full run: paired drop and its interval, agreement with Keras excluding near ties, as
`kbert.export.accuracy_gate` judges), batch-1 latency; BERT-base, DistilBERT-base, ALBERT-base
(random weights: size/latency only, seq 128). Baseline: `transformers` torch CPU
BertForSequenceClassification (bert-base config), same input, 2 threads.
Latency: median of `invoke()` in the LiteRT interpreter (`ai_edge_litert`, XNNPACK default delegate); for the int8
modes also with `experimental_default_delegate_latest_features=True` (XNNPACK's newer kernels).
The latencies the claims compare (BERT-base float32 / int8 modes, DistilBERT float32, torch) are
measured again at the end **interleaved**: one call of each in turn, `ROUNDS` times, medians, so a
change of machine load hits every side alike (`figures["side_by_side_ms"]`); each timed call comes after
`bench.common.SETTLE_S` of untimed calls of the same side, so no side is timed while the previous one's worker
threads still spin (`bench.common.interleaved_rounds`).
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
import statistics
import time

from bench.common import SETTLE_S, interleaved_rounds, litert_call, note, ratio, target, timeit, write_result

SEQ = 128
MINILM_SEQS = (64, 128)
THREADS = 2
# the fine-tuned MiniLM: a fixed seeded subset of the tweets (3 classes), the recipe's own splits
FINETUNE = dict(task="classify", model="minilm", data="tweets", seq_len=64, batch_size=32, learning_rate=1e-4,
                pooling="mean", dropout=0.1, patience=1, seed=0)
FULL_DATA = dict(limit=2000, eval_limit=1000, epochs=1)
QUICK_DATA = dict(limit=200, eval_limit=200, epochs=1)
# every export mode kbert has for the phone; modes added to kbert.export (full-int8 variants) join here
MINILM_MODES = ("float32", "float16", "dynamic-int8", "dynamic-int8-per-channel", "int8", "mixed")
ROUNDS = 15
ORT_ROUNDS = 7
NOTES = {
    "setup": "Per-mode latencies: medians of 10 runs, taken minutes apart; claim ratios come from interleaved "
             "medians, each side timed after {settle_s} s of its own untimed calls. Random weights for "
             "BERT/DistilBERT/ALBERT-base; MiniLM fine-tuned by kbert's recipe on "
             "{train} tweets ({epochs} epoch, 64 tokens), Keras test accuracy {keras_test}; per mode at seq "
             "{seqs}: accuracy with its 95% interval on {test} test tweets, the gate's paired drop and agreement "
             "(near ties < {tie_margin} excluded) on {val} validation tweets. ONNX Runtime side by side: "
             "{ort_rounds} interleaved rounds of {per_round} calls each (models: {ort_models}).",
    "minilm_modes": "MiniLM at seq {seq}: {rows}.",
    "setup_base": "Per-mode latencies: medians of 10 runs; random weights for the base models ({models}).",
    "no_ort": "ONNX Runtime not measured: {reason}.",
}


def interp_latency(content, feed, latest=False, repeats=10):
    return timeit(litert_call(content, feed, THREADS, latest=latest), repeats=repeats, warmup=2)["median_ms"]


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

        calls = {"tflite_dynamic_int8": litert_call(side[f"{name} dynamic-int8"], feed, THREADS), "torch": run_torch,
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


def wilson(correct: int, n: int) -> list:
    """95% Wilson interval of a proportion (test-split accuracy), as fractions."""
    import math

    z = 1.959963984540054
    if n == 0:
        return [0.0, 1.0]
    p = correct / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(mid - half, 4), round(mid + half, 4)]


def finetuned_minilm(quick: bool, workdir: str):
    """(task model, tokenizer, label names, train, validation, test, fine-tuning figures): MiniLM
    fine-tuned on the tweets by kbert's recipe, and the recipe's own splits."""
    from kbert.model_dir import load_model_dir
    from kbert.recipes.finetune import FinetuneConfig, finetune, splits

    config = FinetuneConfig(**FINETUNE, **(QUICK_DATA if quick else FULL_DATA))
    t = time.time()
    result = finetune(config, workdir, say=lambda *a: None, verbose=0)
    d = load_model_dir(workdir)
    train, val, test = splits(config)
    info = {"train": len(train), "validation": len(val), "test": len(test), "epochs": config.epochs,
            "trained_seq_len": config.seq_len, "keras_test_accuracy": round(result["test"]["accuracy"], 4),
            "train_seconds": result["train_seconds"], "finetune_seconds": round(time.time() - t, 1)}
    print("fine-tuned MiniLM", info, flush=True)
    return d.model, d.tokenizer, d.labels, train, val, test, info


def minilm_modes(model, tok, train, val, test, modes, seqs, side: dict) -> dict:
    """Every mode at every length: size, test accuracy +- 95% interval, the gate's figures on the
    validation split (paired drop and interval, agreement excluding near ties), batch-1 latency."""
    import numpy as np

    from kbert.export import accuracy_gate, tflite

    out = {}
    y_val, y_test = np.asarray(val.y), np.asarray(test.y)
    for seq in seqs:
        t = time.time()
        bv, bt = tflite.tokenize(tok, list(val.texts), seq), tflite.tokenize(tok, list(test.texts), seq)
        kv = accuracy_gate.keras_outputs(model, "classify", seq, bv)["probability"]
        kt = accuracy_gate.keras_outputs(model, "classify", seq, bt)["probability"]
        k_right = int((kt.argmax(-1) == y_test).sum())
        rows = {"keras": {"test_accuracy": round(k_right / len(y_test), 4),
                          "test_accuracy_ci95": wilson(k_right, len(y_test)),
                          "reference_s": round(time.time() - t, 1)}}
        rep = tflite.representative_inputs(tok, list(train.texts)[:32], seq)
        feed = rep[0]
        for mode in modes:
            base_mode = "dynamic-int8" if mode.startswith("dynamic-int8") else mode
            t = time.time()
            content = tflite.convert(model, base_mode, "classify", seq, representative=rep,
                                     per_channel=mode.endswith("per-channel"))
            convert_s = time.time() - t
            lv = accuracy_gate.lite_outputs(content, bv)[0]["probability"]
            lt = accuracy_gate.lite_outputs(content, bt)[0]["probability"]
            gate = accuracy_gate.judge_classification(kv, lv, y_val)
            right = int((lt.argmax(-1) == y_test).sum())
            test_drop = accuracy_gate.paired_drop(kt.argmax(-1) == y_test, lt.argmax(-1) == y_test)
            m = {"size_mb": round(len(content) / 1e6, 2), "convert_s": round(convert_s, 1),
                 "latency_ms": round(interp_latency(content, feed), 3),
                 "test_accuracy": round(right / len(y_test), 4), "test_accuracy_ci95": wilson(right, len(y_test)),
                 "test_drop_points": round(test_drop["metric_drop_points"], 2),
                 "test_drop_ci95": [round(x, 2) for x in test_drop["metric_drop_ci95"]],
                 "gate": {"examples": gate["examples"], "drop_points": round(gate["metric_drop_points"], 2),
                          "drop_ci95": [round(x, 2) for x in gate["metric_drop_ci95"]],
                          "agreement_excluding_ties": round(gate["agreement_excluding_ties"], 4),
                          "near_ties": gate["near_ties"], "max_abs_diff": round(gate["max_abs_diff"], 4),
                          "passed": gate["passed"]}}
            if "int8" in mode or mode == "mixed":
                m["latency_ms_xnnpack_latest"] = round(interp_latency(content, feed, latest=True), 3)
            m["seconds"] = round(time.time() - t, 1)
            rows[mode] = m
            print("minilm_l6", seq, mode, m, flush=True)
            if seq == SEQ and mode == "dynamic-int8":
                side["minilm_l6 dynamic-int8"] = content  # the ORT side by side (seq 128, as the base models)
            del content
        f32 = rows["float32"]["size_mb"]
        for mode in modes:
            rows[mode]["size_ratio"] = round(rows[mode]["size_mb"] / f32, 3)
        out[str(seq)] = rows
    return out


def mode_summary(rows: dict) -> str:
    parts = []
    for mode, m in rows.items():
        if mode == "keras":
            continue
        lo, hi = m["test_accuracy_ci95"]
        parts.append(f"{mode} {m['size_mb']:g} MB, test accuracy {m['test_accuracy']:.3f} [{lo:.3f}, {hi:.3f}], "
                     f"gate drop {m['gate']['drop_points']:+.2f} (upper {m['gate']['drop_ci95'][1]:.2f}) points, "
                     f"agreement {m['gate']['agreement_excluding_ties']:.3f}, {m['latency_ms']:g} ms, "
                     f"{'passed' if m['gate']['passed'] else 'refused'}")
    return "; ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    help="MiniLM only, fine-tuned on 200 tweets, 200 validation / test tweets, 3 modes")
    ap.add_argument("--base-only", action="store_true",
                    help="only the random-weight base models, float32 + dynamic-int8 (result tflite_modes_base)")
    args = ap.parse_args(argv)

    import shutil
    import tempfile

    import keras

    import kbert
    from kbert.export import accuracy_gate, tflite
    from kbert.tasks.classifier import build_classifier

    t0 = time.time()
    tok = kbert.tokenizers.from_folder(kbert.assets.minilm_dir(), "bert")
    rep = accuracy_gate.default_inputs(tok, "classify", SEQ, None, kind="representative")[:32]
    feed = rep[0]
    figures = {"seq_len": SEQ, "threads": THREADS, "models": {}}
    result_name = "tflite_modes_base" if args.base_only else "tflite_modes"
    side = {}  # (model, mode[, latest]) -> flatbuffer, for the interleaved claim latencies
    setup = {}
    if not args.base_only:
        work = tempfile.mkdtemp(prefix="kbert-tflite-modes-")
        try:
            clf, ftok, labels, train, val, test, info = finetuned_minilm(args.quick, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # every export mode kbert has (a new one, e.g. a full-int8 variant, is measured too)
        modes = [*MINILM_MODES, *(m for m in tflite.MODES if m not in MINILM_MODES)]
        if args.quick:  # the modes the gate can ship (int8 / mixed need calibration and lose accuracy anyway)
            modes = ["float32", "dynamic-int8", "dynamic-int8-per-channel"]
        row = {"params": int(clf.count_params()), "param_bytes_fp32": int(4 * clf.count_params()),
               "labels": list(labels), "finetune": info}
        row["by_seq_len"] = minilm_modes(clf, ftok, train, val, test, modes, MINILM_SEQS, side)
        f32 = row["by_seq_len"][str(SEQ)]["float32"]
        row["float32_file_over_param_bytes"] = round(f32["size_mb"] * 1e6 / row["param_bytes_fp32"], 3)
        figures["models"]["minilm_l6"] = row
        setup = {"train": info["train"], "epochs": info["epochs"], "val": info["validation"], "test": info["test"],
                 "keras_test": f"{info['keras_test_accuracy']:.3f}"}
        print(f"minilm_l6 done {time.time() - t0:.0f}s", flush=True)
        write_result(result_name, figures, [], quick=args.quick, final=False)
        del clf

    models = []
    if not args.quick:
        for preset in ("bert_base", "distilbert_base", "albert_base"):
            keras.utils.set_random_seed(0)
            models.append((preset, build_classifier(kbert.models.backbone(preset), num_classes=2)))
    plan = {"bert_base": ["float32", "dynamic-int8", "int8", "float16"],
            "distilbert_base": ["float32", "dynamic-int8", "int8"],
            "albert_base": ["float32", "dynamic-int8", "int8"]}
    for name, model in models:
        modes = plan[name] if not args.base_only else ["float32", "dynamic-int8"][: 2 if name == "bert_base" else 1]
        row = {"params": int(model.count_params()), "param_bytes_fp32": int(4 * model.count_params())}
        for mode in modes:
            t = time.time()
            content = tflite.convert(model, mode, "classify", SEQ, representative=rep)
            m = {"size_mb": round(len(content) / 1e6, 2), "convert_s": round(time.time() - t, 1),
                 "latency_ms": round(interp_latency(content, feed), 3)}
            if "int8" in mode:
                m["latency_ms_xnnpack_latest"] = round(interp_latency(content, feed, latest=True), 3)
            row[mode] = m
            print(name, mode, m, f"{time.time() - t0:.0f}s", flush=True)
            if (name, mode) in (("bert_base", "float32"), ("bert_base", "dynamic-int8"), ("bert_base", "int8"),
                                ("distilbert_base", "float32"), ("distilbert_base", "dynamic-int8")):
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
            calls[key] = litert_call(content, feed, THREADS)
            if "int8" in key:
                calls[key + " xnnpack_latest"] = litert_call(content, feed, THREADS, latest=True)
        ms = {k: round(statistics.median(v), 1)
              for k, v in interleaved_rounds(calls, rounds=ROUNDS, per_round=1, warmup=2).items()}
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
    if setup:
        notes.insert(0, note("setup", **setup, seqs=" and ".join(map(str, MINILM_SEQS)),
                             tie_margin=accuracy_gate.TIE_MARGIN, ort_rounds=ORT_ROUNDS, per_round=3,
                             settle_s=SETTLE_S, ort_models=", ".join(ort_models) or "none"))
        for seq, rows in figures["models"]["minilm_l6"]["by_seq_len"].items():
            notes.append(note("minilm_modes", seq=seq, rows=mode_summary(rows)))
    else:
        notes.insert(0, note("setup_base", models=", ".join(figures["models"]) or "none"))
    figures["seconds"] = round(time.time() - t0, 1)
    write_result(result_name, figures, notes, quick=args.quick)


if __name__ == "__main__":
    main()
