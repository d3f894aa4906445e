"""Claim: kbert's extractive-QA pipeline works end to end: SQuAD features with doc-stride windows and
offsets, training, post-processing to answer text, official EM/F1.

Training data comes through the real `tfds.load("squad")` code path with `tfds.testing.mock_data`
(offline) serving generated SQuAD-style paragraphs (several people per paragraph, so the question's
name must be matched; questions about absent people are unanswerable in the v2 run). The trained
MiniLM is then scored on the mock validation split and, zero-shot, on kbert's 35 hand-written
questions (kbert/data/qa/handwritten_qa.json), and its start/end model dir is what `kbert export
tflite` takes for QA.

    python -m bench.finetune_qa [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile

from bench.common import note, write_result

NOTES = {
    "setup": "Full pipeline: tfds.load('squad') under tfds.testing.mock_data serving generated SQuAD v2-style "
             "paragraphs (3 people each, 10% unanswerable questions about absent people), seq_len {seq_len} with doc "
             "stride {doc_stride} (so contexts are windowed), real all-MiniLM-L6-v2 fine-tuned with start/end "
             "cross-entropy (AdamW {learning_rate:g}, {epochs} epochs max), n-best post-processing with max answer "
             "length 30 and the null ([CLS]) score, official SQuAD EM/F1. The hand-written set (Austen + factual "
             "paragraphs) is scored zero-shot on its answerable questions: the model never saw that kind of text, so "
             "it is a transfer check, not a SQuAD-trained figure.",
}

NAMES = ["Alice Moreau", "Bruno Keller", "Chen Wei", "Dara Okafor", "Elena Petrova", "Farid Haddad", "Grace Lin",
         "Hugo Silva", "Ines Duarte", "Jonas Berg", "Kofi Mensah", "Lena Fischer", "Mateo Rossi", "Nadia Karim",
         "Oskar Nilsson", "Priya Nair", "Quentin Dubois", "Rosa Jimenez", "Sven Larsen", "Tara Walsh"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Quebec", "Tallinn", "Valparaiso", "Krakow", "Lagos", "Hanoi", "Bergen",
          "Cusco", "Porto", "Zagreb", "Adelaide", "Tampere", "Marseille", "Dublin", "Seville"]
JOBS = ["a violin maker", "a marine biologist", "a railway engineer", "a baker", "a glassblower", "an astronomer",
        "a translator", "a beekeeper", "a bookbinder", "a surgeon"]


def make_examples(n, seed, unanswerable=0.0):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        people = rng.sample(NAMES, 3)
        facts = {p: (rng.choice(CITIES), str(rng.randint(1850, 2010)), rng.choice(JOBS)) for p in people}
        sents = []
        for p in people:
            city, year, job = facts[p]
            sents.append(rng.choice([f"{p} was born in {city} in {year}.", f"In {year}, {p} was born in {city}."]))
            sents.append(f"Later {p.split()[0]} worked as {job}.")
        rng.shuffle(sents)
        ctx = " ".join(sents)
        p = rng.choice(people)
        city, year, job = facts[p]
        q, a = rng.choice([(f"Where was {p} born?", city), (f"In which year was {p} born?", year),
                           (f"What did {p.split()[0]} work as?", job)])
        if rng.random() < unanswerable:
            other = rng.choice([x for x in NAMES if x not in people])
            q, a = rng.choice([(f"Where was {other} born?", None), (f"In which year was {other} born?", None)])
        start = ctx.find(p.split()[0] + " worked as " + a) + len(p.split()[0] + " worked as ") if a == job else (
            ctx.find(a, ctx.find(p)) if a == city else ctx.find(a, max(ctx.find(p) - 12, 0)) if a else -1)
        if a and ctx[start:start + len(a)] != a:
            continue
        out.append({"id": f"s{seed}-{len(out)}", "title": "synthetic", "question": q, "context": ctx,
                    "answers": {"text": [a] if a else [], "answer_start": [start] if a else []}})
    return out


def mock_squad(train, validation):
    """tfds.testing.mock_data serving our examples for squad's train / validation splits."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(self, split, **kwargs):
        rows = train if str(split).startswith("train") else validation
        spec = {"id": tf.TensorSpec((), tf.string), "title": tf.TensorSpec((), tf.string),
                "question": tf.TensorSpec((), tf.string), "context": tf.TensorSpec((), tf.string),
                "answers": {"text": tf.TensorSpec((None,), tf.string), "answer_start": tf.TensorSpec((None,), tf.int32)}}
        return tf.data.Dataset.from_generator(lambda: iter([{**r, "answers": {
            "text": np.array(r["answers"]["text"], object).astype(bytes) if r["answers"]["text"] else np.zeros(0, bytes),
            "answer_start": np.array(r["answers"]["answer_start"], "int32")}} for r in rows]), output_signature=spec)

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from kbert.tasks import metrics
    from kbert.tasks.question_answerer import postprocess
    from kbert.recipes import finetune
    from kbert.recipes.finetune import FinetuneConfig

    DEFAULTS = FinetuneConfig().to_dict()

    n_train = 200 if args.quick else 1200
    train, val = make_examples(n_train, 0, unanswerable=0.1), make_examples(60 if args.quick else 200, 1, unanswerable=0.1)
    config = {**DEFAULTS, "task": "qa", "model": "minilm", "data": "tfds:squad", "seq_len": 96, "doc_stride": 32,
              "max_query_len": 24, "batch_size": 16, "epochs": 2 if args.quick else 3, "learning_rate": 3e-4 if args.quick else 1e-4,
              "patience": 1}
    out = os.path.join(tempfile.mkdtemp(prefix="kbert-bench-qa-"), "model")
    with mock_squad(train, val):
        r = finetune.finetune(config, out, verbose=2)
    # zero-shot on the hand-written set, through the saved model directory (what the exporters read)
    from kbert.data import datasets, tasks
    from kbert.model_dir import load_model_dir

    md = load_model_dir(out)
    hw = datasets.read_squad(os.path.join(os.path.dirname(datasets.__file__), "qa", "handwritten_qa.json"))
    f = tasks.qa_features(md.tokenizer, hw, seq_len=md.seq_len, doc_stride=32, max_query_len=24)
    o = md.model.predict(tasks.model_inputs(f), verbose=0)
    preds = postprocess(f, o["start_logits"], o["end_logits"], [e["context"] for e in hw], allow_no_answer=False)
    answerable = [i for i, e in enumerate(hw) if e["answers"]["text"]]
    hw_scores = metrics.squad_scores([preds[i]["text"] for i in answerable], [hw[i]["answers"]["text"] for i in answerable])
    v = r["test"]
    figures = {
        "train_questions": len(train), "mock_validation_questions": v["n"],
        "mock_validation_windows": v["windows"], "train_windows": r["feature_stats"]["train"]["windows"],
        "mock_squad_exact_match": round(v["exact_match"], 2), "mock_squad_f1": round(v["f1"], 2),
        "handwritten_answerable_questions": len(answerable),
        "handwritten_zero_shot_exact_match": round(hw_scores["exact_match"], 2),
        "handwritten_zero_shot_f1": round(hw_scores["f1"], 2),
        "handwritten_examples": [{"q": hw[i]["question"], "pred": preds[i]["text"], "gold": hw[i]["answers"]["text"]}
                                 for i in answerable[:8]],
        "train_seconds": r["train_seconds"], "seq_len": config["seq_len"], "doc_stride": config["doc_stride"],
    }
    write_result("finetune_qa", figures, notes=[note("setup", seq_len=config["seq_len"], doc_stride=config["doc_stride"],
                                                     learning_rate=config["learning_rate"], epochs=config["epochs"])],
                 quick=args.quick, datasets={"train_questions": len(train), "validation_questions": v["n"],
                                             "handwritten_answerable_questions": len(answerable)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
