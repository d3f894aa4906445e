"""What a distillation step costs: Distiller train step vs (student train step + teacher forward).

    python -m bench.distill_step_cost [--quick]

The claim: the Distiller adds no duplicated teacher work, so one of its train steps costs at most
1.15x a plain student train step plus one teacher forward pass, timed in the same run,
interleaved. Two settings, MiniLM-L6-sized random BERT teacher (6 x 384) -> 3-layer student:

- task: classifiers, batch 32, seq 64 (the `distill_sentiment` setting);
- mlm: encoders + tied MLM heads, real 30,522-token vocabulary, batch 16, seq 64, 10 masked
  positions, `ce_positions="masked"` (the student's plain MLM step evaluates the same positions).
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import note, target, timeit, write_result

NOTES = {
    "setup": "Random MiniLM-L6-sized BERT teacher (6x384, 30522 vocab) -> 3-layer student, float32 CPU, no jit. "
             "Each figure is the median over {rounds} interleaved rounds of {repeats} train_on_batch calls / "
             "tf.function teacher forwards (synthetic ids).",
}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    import kbert
    from kbert.models.heads import mlm_head
    from kbert.tasks.classifier import build_classifier, compile_classifier
    from kbert.training.distiller import Distiller
    from kbert.training.student_init import student_like

    keras.utils.set_random_seed(0)
    repeats, rounds = (2, 2) if args.quick else (10, 5)
    cfg = dict(vocabulary_size=30522, hidden_dim=384, num_heads=12, intermediate_dim=1536, max_sequence_length=128)
    figures = {}
    for setting in ("task", "mlm"):
        t_enc = kbert.models.backbone("bert_tiny", num_layers=6, **cfg)
        s_enc = student_like(t_enc, 3)
        batch, seq = (32, 64) if setting == "task" else (16, 64)
        x = kbert.models.dummy_inputs(t_enc, batch, seq)
        rng = np.random.default_rng(0)
        if setting == "task":
            teacher, student = build_classifier(t_enc, 3), build_classifier(s_enc, 3)
            y = rng.integers(0, 3, batch)
            distiller = Distiller(teacher, student)
            plain = build_classifier(student_like(t_enc, 3), 3)
            compile_classifier(plain)
            plain_step = lambda: plain.train_on_batch(x, y)  # noqa: E731
        else:
            positions = np.sort(rng.permutation(seq // 2)[:10])[None].repeat(batch, 0).astype("int32")
            x = {**x, "mask_positions": positions}
            y = {"mlm_ids": rng.integers(5, 30522, (batch, 10)), "mlm_weights": np.ones((batch, 10), "float32")}
            distiller = Distiller(t_enc, s_enc, mlm_head(t_enc), mlm_head(s_enc), ce_positions="masked")
            p_enc = student_like(t_enc, 3)
            p_head = mlm_head(p_enc)
            inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in x}
            seq_out = p_enc({k: inputs[k] for k in p_enc.input})["sequence_output"]
            plain = keras.Model(inputs, p_head(seq_out, mask_positions=inputs["mask_positions"]))
            plain.compile(optimizer=keras.optimizers.AdamW(5e-5, weight_decay=0.01),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            plain_step = lambda: plain.train_on_batch(x, y["mlm_ids"], sample_weight=y["mlm_weights"])  # noqa
        distiller.compile(optimizer=keras.optimizers.AdamW(5e-5, weight_decay=0.01))
        teacher_inputs = distiller._teacher_inputs(x, x.get("mask_positions"))
        teacher_fwd = tf.function(lambda: distiller.teacher_view(teacher_inputs, training=False)["logits"])
        steps = {
            "distill_step": lambda: distiller.train_on_batch(x, y),
            "student_step": plain_step,
            "teacher_forward": lambda: teacher_fwd().numpy(),
        }
        per = {k: [] for k in steps}
        for _ in range(rounds):  # interleaved, so machine load hits all three alike
            for name, fn in steps.items():
                per[name].append(timeit(fn, repeats=repeats, warmup=2)["median_ms"])
        ms = {k: float(np.median(v)) for k, v in per.items()}
        ratio = ms["distill_step"] / (ms["student_step"] + ms["teacher_forward"])
        figures[setting] = {**{f"{k}_ms": v for k, v in ms.items()}, "ratio": ratio, "batch": batch, "seq_len": seq}
        figures.setdefault("targets", {})[f"{setting}: distill step / (student step + teacher forward)"] = target(
            f"{setting}: distill step / (student step + teacher forward)", ratio, 1.15)
        print(setting, figures[setting])
    figures["targets"] = figures.pop("targets")  # after the settings, for the report's order
    write_result("distill_step_cost", figures, quick=args.quick,
                 notes=[note("setup", rounds=rounds, repeats=repeats)])


if __name__ == "__main__":
    main()
