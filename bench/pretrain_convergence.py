"""Claim: tiny BERT (MLM+NSP) and tiny ALBERT (MLM+SOP) pretrain on the bundled Austen corpus on 2 CPU cores,
with MLM loss falling far below its start and held-out MLM accuracy well above chance.

Held out: *Persuasion* (the last 24 chapters), never seen by the tokenizer or the model.

    python -m bench.pretrain_convergence [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from bench.common import note, target, write_result

NOTES = {
    "setup": "Held-out = Persuasion (24 chapters); tokenizers trained on the first 120 training chapters; {steps} "
             "steps per model. MLM chance accuracy is ~1/vocab (loss ln(vocab) ~ 8); the most frequent token ('the', "
             "',') alone gives ~5%. Target: held-out MLM loss at the end at most 0.9x its start.",
}


def split_corpus(tmp, held_out=24):
    from kbert.data import corpus

    docs = list(corpus.bundled_documents())  # ~4 MB: fine for a benchmark split
    train, test = os.path.join(tmp, "train.txt"), os.path.join(tmp, "heldout.txt")
    with open(train, "w") as f:
        f.write("\n\n".join(docs[:-held_out]))
    with open(test, "w") as f:
        f.write("\n\n".join(docs[-held_out:]))
    return train, test


def run_one(preset, overrides, kind, train, test, steps, seq_len, batch, vocab, lr, seed=0):
    import keras
    import tensorflow as tf

    from kbert import models, tokenizer_training
    from kbert.data.pretraining import pretraining_dataset
    from kbert.training.pretrainer import pretrainer_for

    keras.utils.set_random_seed(seed)
    tok = tokenizer_training.train(kind, train, vocab, max_documents=120)
    model = pretrainer_for(models.backbone(preset, vocabulary_size=tok.vocabulary_size(), **overrides))
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=lr, warmup_steps=steps // 10,
                                                      alpha=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, global_clipnorm=1.0))
    data = pretraining_dataset(train, tok, seq_len=seq_len, batch_size=batch, objective=model.pair_task, seed=seed,
                               repeat=True)
    held = pretraining_dataset(test, tok, seq_len=seq_len, batch_size=batch, objective=model.pair_task,
                               seed=seed + 1, shuffle_buffer=512).take(10).cache()
    held = held.apply(tf.data.experimental.assert_cardinality(10))  # unknown: evaluate counts a batch twice
    before = model.evaluate(held, verbose=0, return_dict=True)
    t = time.time()
    hist = model.fit(data, steps_per_epoch=max(steps // 10, 1), epochs=10, verbose=2)
    minutes = (time.time() - t) / 60
    after = model.evaluate(held, verbose=0, return_dict=True)
    pair = model.pair_task
    return {
        "preset": preset, "overrides": overrides, "objective": pair, "params": model.backbone.count_params(),
        "vocab": int(tok.vocabulary_size()), "steps": steps, "batch": batch, "seq_len": seq_len,
        "train_mlm_loss_first_epoch": float(hist.history["mlm_loss"][0]),
        "train_mlm_loss_last_epoch": float(hist.history["mlm_loss"][-1]),
        "heldout_mlm_loss_start": before["mlm_loss"], "heldout_mlm_loss_end": after["mlm_loss"],
        "heldout_mlm_accuracy_start": before["mlm_accuracy"], "heldout_mlm_accuracy_end": after["mlm_accuracy"],
        f"heldout_{pair}_accuracy_end": after[f"{pair}_accuracy"], "train_minutes": round(minutes, 2),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    steps = 100 if args.quick else 800
    with tempfile.TemporaryDirectory() as tmp:
        train, test = split_corpus(tmp)
        runs = [run_one("bert_tiny", {}, "wordpiece", train, test, steps, 64, 32, 4000, 2e-3)]
        if not args.quick:  # quick: ALBERT + SOP pretraining is exercised by sop_vs_nsp --quick
            runs.append(run_one("albert_tiny", {"num_layers": 2}, "sentencepiece", train, test, steps, 64, 32, 4000,
                                2e-3))
    figures = {r["preset"]: r for r in runs}
    for r in runs:
        figures.setdefault("targets", {})[f"{r['preset']}: held-out MLM loss end / start"] = target(
            f"{r['preset']}: held-out MLM loss end / start", round(r["heldout_mlm_loss_end"] / r["heldout_mlm_loss_start"], 4),
            0.9)
    write_result("pretrain_convergence", figures, quick=args.quick, notes=[note("setup", steps=steps)])


if __name__ == "__main__":
    main()
