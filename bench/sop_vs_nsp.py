"""Claim (ALBERT paper, Table 5): a model trained with NSP barely solves SOP (NSP can be solved by topic
alone), while a model trained with SOP solves SOP well above 50% (and NSP reasonably too).

The same tiny ALBERT (2 layers, hidden 128, E 128), tokenizer, data and steps, trained once with NSP and
once with SOP; after every tenth of training each is scored on held-out SOP and NSP examples from
*Persuasion* (never trained on), so the result is a curve, not one point.

    python -m bench.sop_vs_nsp [--quick] [--steps N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

SEQ_LEN, BATCH, HIDDEN, LR, DROPOUT = 64, 64, 128, 2e-3, 0.0
EVAL_BATCHES, EVAL_BATCH = 16, 32

from bench.common import note, target, write_result

NOTES = {
    "setup": "ALBERT with 2 layers, hidden {hidden}, E 128, 2 heads, FFN {ffn}; 4k SentencePiece; seq {seq_len}, batch "
             "{batch}, {steps} steps per model, AdamW peak {lr} (5% warmup, cosine), jit_compile; same seed and data "
             "order for both. Held out: Persuasion, {examples} examples per task. Label convention: 0 = in order / "
             "real next, 1 = swapped / random. Reference (ALBERT Table 5, base, 125k steps x 4096): NSP-trained 52.0% "
             "on SOP, SOP-trained 86.5% on SOP and 78.9% on NSP.",
    "result": "{model}-trained: held-out SOP {sop:.3f}, NSP {nsp:.3f}, MLM accuracy {mlm:.3f} after {minutes:.1f} min "
              "(held-out label-1 fractions SOP {sop_frac:.2f}, NSP {nsp_frac:.2f}).",
}


def held_out(test, tokenizer, objective):
    import tensorflow as tf

    from kbert.data.pretraining import pretraining_dataset

    ds = pretraining_dataset(test, tokenizer, seq_len=SEQ_LEN, batch_size=EVAL_BATCH, objective=objective, seed=7,
                             shuffle_buffer=1024).take(EVAL_BATCHES).cache()
    return ds.apply(tf.data.experimental.assert_cardinality(EVAL_BATCHES))  # unknown: evaluate counts a batch twice


def train_one(trained_on, steps, train, test, tok, epochs=10):
    import keras
    import numpy as np

    from kbert import models
    from kbert.data.pretraining import pretraining_dataset
    from kbert.training.pretrainer import pretrainer_for

    keras.utils.set_random_seed(0)
    backbone = models.backbone("albert_tiny", vocabulary_size=tok.vocabulary_size(), num_layers=2,
                               hidden_dim=HIDDEN, num_heads=2, intermediate_dim=4 * HIDDEN, dropout=DROPOUT)
    model = pretrainer_for(backbone, objective=trained_on)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=LR, warmup_steps=max(steps // 20, 1),
                                                      alpha=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, global_clipnorm=1.0),
                  jit_compile=True)
    data = pretraining_dataset(train, tok, seq_len=SEQ_LEN, batch_size=BATCH, objective=trained_on, seed=0,
                               repeat=True, cache=True)  # tokenize once; masks/pairs still re-drawn
    evals = {obj: held_out(test, tok, obj) for obj in ("sop", "nsp")}
    curve = {"step": [], "heldout_sop_accuracy": [], "heldout_nsp_accuracy": [], "heldout_mlm_accuracy": [],
             f"train_{trained_on}_accuracy": [], "train_mlm_loss": []}

    class Eval(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            curve["step"].append((epoch + 1) * (steps // epochs))
            curve[f"train_{trained_on}_accuracy"].append(round(float(logs[f"{trained_on}_accuracy"]), 4))
            curve["train_mlm_loss"].append(round(float(logs["mlm_loss"]), 3))
            for obj, ds in evals.items():  # the pair head scores whichever task the labels define
                r = self.model.evaluate(ds, verbose=0, return_dict=True)
                curve[f"heldout_{obj}_accuracy"].append(round(float(r[f"{trained_on}_accuracy"]), 4))
                if obj == "sop":
                    curve["heldout_mlm_accuracy"].append(round(float(r["mlm_accuracy"]), 4))
            print(trained_on, {k: v[-1] for k, v in curve.items()}, flush=True)

    t = time.time()
    model.fit(data, steps_per_epoch=steps // epochs, epochs=epochs, verbose=2, callbacks=[Eval()])
    row = {"steps": steps, "train_minutes": round((time.time() - t) / 60, 2), "curve": curve}
    for obj, ds in evals.items():
        row[f"heldout_{obj}_accuracy"] = curve[f"heldout_{obj}_accuracy"][-1]
        row[f"heldout_{obj}_label1_fraction"] = float(np.mean(np.concatenate([y["pair_label"].numpy() for _, y in ds])))
    row["heldout_mlm_accuracy"] = curve["heldout_mlm_accuracy"][-1]
    return row


def plot(figures, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, task in zip(axes, ("sop", "nsp")):
        for trained_on, style in (("sop", "-o"), ("nsp", "--s")):
            c = figures[f"trained_with_{trained_on}"]["curve"]
            ax.plot(c["step"], c[f"heldout_{task}_accuracy"], style, label=f"trained with {trained_on.upper()}")
        ax.axhline(0.5, color="grey", lw=0.8)
        ax.set_title(f"held-out {task.upper()} accuracy (Persuasion)")
        ax.set_xlabel("training step")
        ax.legend()
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=None, help="training steps per model (default 6000; quick 60)")
    args = p.parse_args(argv)

    from bench.common import RESULTS
    from bench.pretrain_convergence import split_corpus
    from kbert import tokenizer_training

    steps = args.steps or (60 if args.quick else 6000)
    figures = {"seq_len": SEQ_LEN, "batch": BATCH, "hidden": HIDDEN, "dropout": DROPOUT}
    with tempfile.TemporaryDirectory() as tmp:
        train, test = split_corpus(tmp)
        tok = tokenizer_training.train_sentencepiece(train, 4000, max_documents=120)
        for trained_on in ("sop", "nsp"):  # SOP first: the claim hinges on it
            figures[f"trained_with_{trained_on}"] = train_one(trained_on, steps, train, test, tok,
                                                              epochs=2 if args.quick else 10)
    s, n = figures["trained_with_sop"], figures["trained_with_nsp"]
    if not args.quick:  # a 60-step smoke run cannot show it
        figures["targets"] = {
            "SOP-trained on held-out SOP (well above chance)": target(
                "SOP-trained on held-out SOP (well above chance)", s["heldout_sop_accuracy"], 0.6, better="higher"),
            "NSP-trained on held-out SOP (near chance)": target(
                "NSP-trained on held-out SOP (near chance)", n["heldout_sop_accuracy"], 0.55),
        }
        plot(figures, os.path.join(RESULTS, "sop_vs_nsp.png"))
    notes = [note("setup", hidden=HIDDEN, ffn=4 * HIDDEN, seq_len=SEQ_LEN, batch=BATCH, steps=steps, lr=LR,
                  examples=EVAL_BATCHES * EVAL_BATCH)]
    for model, r in (("SOP", s), ("NSP", n)):
        notes.append(note("result", model=model, sop=r["heldout_sop_accuracy"], nsp=r["heldout_nsp_accuracy"],
                          mlm=r["heldout_mlm_accuracy"], minutes=r["train_minutes"],
                          sop_frac=r["heldout_sop_label1_fraction"], nsp_frac=r["heldout_nsp_label1_fraction"]))
    write_result("sop_vs_nsp", figures, quick=args.quick, notes=notes,
                 datasets={"heldout_examples_per_task": EVAL_BATCHES * EVAL_BATCH})


if __name__ == "__main__":
    main()
