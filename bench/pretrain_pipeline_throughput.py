"""Claim: the pretraining input pipeline (split, tokenize, pair, pack, mask) produces examples at least 5x
faster than the train step consumes them, so it never bottlenecks training. Both measured in one run.

    python -m bench.pretrain_pipeline_throughput [--quick]
"""

from __future__ import annotations

import argparse
import time

from bench.common import note, target, write_result

NOTES = {
    "setup": "Measured back to back in one process: the pipeline and the train step compete for the same cores (on "
             "an accelerator the train step gets faster and the pipeline keeps the CPU to itself). Model: the full "
             "preset (bert_tiny L-2 H-128; albert_tiny L-4 H-312) with an 8k vocabulary, seq {seq_len}, batch {batch}, "
             "{n_batches} pipeline batches timed.",
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    import keras
    import tensorflow as tf

    from kbert import models, tokenizer_training
    from kbert.data.pretraining import pretraining_dataset
    from kbert.training.pretrainer import pretrainer_for

    seq_len, batch = 128, 32
    n_batches = 20 if args.quick else 100
    figures = {}
    for preset, kind, obj in (("bert_tiny", "wordpiece", "nsp"), ("albert_tiny", "sentencepiece", "sop")):
        tok = tokenizer_training.train(kind, "bundled", 8000, max_documents=20 if args.quick else 60)
        ds = pretraining_dataset("bundled", tok, seq_len=seq_len, batch_size=batch, objective=obj, seed=0,
                                 repeat=True)
        it = iter(ds)
        next(it)  # warm up: first documents and the shuffle buffer
        for _ in range(5):
            next(it)
        t = time.perf_counter()
        for _ in range(n_batches):
            next(it)
        pipe = n_batches * batch / (time.perf_counter() - t)

        keras.utils.set_random_seed(0)
        model = pretrainer_for(models.backbone(preset, vocabulary_size=tok.vocabulary_size()))
        model.compile(optimizer=keras.optimizers.AdamW(1e-4))
        fixed = tf.data.Dataset.from_tensors(next(it)).repeat()  # train step alone, no input cost
        model.fit(fixed, steps_per_epoch=3, epochs=1, verbose=0)  # trace / warm up
        steps = max(n_batches // 3, 10)
        t = time.perf_counter()
        model.fit(fixed, steps_per_epoch=steps, epochs=1, verbose=0)
        train = steps * batch / (time.perf_counter() - t)
        figures[preset] = {"objective": obj, "seq_len": seq_len, "batch": batch,
                           "pipeline_examples_per_s": round(pipe, 1), "train_step_examples_per_s": round(train, 1),
                           "ratio": round(pipe / train, 2)}
        figures.setdefault("targets", {})[f"{preset}: pipeline / train step examples per s"] = target(
            f"{preset}: pipeline / train step examples per s", round(pipe / train, 2), 5.0, better="higher")
    figures["targets"] = figures.pop("targets")
    write_result("pretrain_pipeline_throughput", figures, quick=args.quick,
                 notes=[note("setup", seq_len=seq_len, batch=batch, n_batches=n_batches)])


if __name__ == "__main__":
    main()
