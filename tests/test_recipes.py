"""The library recipes (kbert.recipes) and the one optimizer builder (kbert.training.optim)."""

import ast
import csv
import os

import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.recipes.finetune import FinetuneConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_library_and_bench_do_not_import_the_cli():
    offenders = []
    for top in ("kbert", "bench"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            if os.path.relpath(folder, ROOT).replace(os.sep, "/").startswith("kbert/cli"):
                continue
            for f in files:
                if not f.endswith(".py"):
                    continue
                path = os.path.join(folder, f)
                for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                             [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                             if isinstance(node, ast.ImportFrom) else [])
                    if any(n == "kbert.cli" or n.startswith("kbert.cli.") for n in names):
                        offenders.append(os.path.relpath(path, ROOT))
    assert not offenders, f"import kbert.cli outside the CLI: {sorted(set(offenders))}"


def test_config_is_typed_and_checked():
    assert FinetuneConfig.from_dict({"task": "qa", "seq_len": 64}).max_query_len == 32  # half the window at most
    with pytest.raises(KbertInputError, match=r"unknown keys \['lr'\]"):
        FinetuneConfig.from_dict({"lr": 1e-3})
    with pytest.raises(KbertInputError, match="unknown task"):
        FinetuneConfig(task="summarize").checked()
    with pytest.raises(KbertInputError, match="epochs must be >= 1"):
        FinetuneConfig(epochs=0).checked()
    with pytest.raises(KbertInputError, match="--tokenizer"):
        FinetuneConfig(model="albert_tiny").checked()
    import json

    for name in ("finetune_sentiment", "finetune_wnut", "finetune_qa"):
        with open(os.path.join(ROOT, "kbert", "configs", f"{name}.json")) as f:
            FinetuneConfig.from_dict(json.load(f), source=name)


def test_adamw_excludes_biases_and_layer_norms_from_weight_decay():
    import keras

    from kbert.training.optim import NO_DECAY, adamw, schedule

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.LayerNormalization(name="output_layer_norm")(
        keras.layers.Dense(4, name="dense", bias_initializer="ones")(inputs)))
    opt = adamw(0.1, weight_decay=0.5, clipnorm=None)
    before = {v.path: np.array(v) for v in model.trainable_variables}
    opt.apply([keras.ops.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
    changed = {v.path for v in model.trainable_variables if not np.allclose(np.array(v), before[v.path])}
    assert changed == {"dense/kernel"}, changed  # zero gradients: only weight decay moves a variable
    assert set(NO_DECAY) >= {"bias", "gamma", "beta"}
    sched = schedule(1e-3, total_steps=100, warmup_steps=10, final_fraction=0.1)
    assert float(sched(0)) == 0.0 and abs(float(sched(10)) - 1e-3) < 1e-9 and abs(float(sched(100)) - 1e-4) < 1e-9


def test_finetune_recipe_writes_a_task_model(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(40):
            label = ["neg", "pos"][i % 2]
            w.writerow([f"the film was {rng.choice(['good', 'great'] if label == 'pos' else ['bad', 'awful'])}", label])
    config = FinetuneConfig(model="bert_tiny", data=str(path), epochs=1, seq_len=12, batch_size=8, pooling="mean")
    result = kbert.recipes.finetune.finetune(config, tmp_path / "out", say=lambda *a: None, verbose=0)
    assert result["task"] == "classify" and result["config"]["pooling"] == "mean"
    assert {"metrics.json", "history.csv", "training_curves.png", "model.keras", "kbert.json"} <= set(
        os.listdir(tmp_path / "out"))
    model = kbert.load(tmp_path / "out")
    assert isinstance(model, kbert.TextClassifier)
    assert (model.labels, model.pooling, model.seq_len) == (["neg", "pos"], "mean", 12)
    assert model.predict(["the film was good"], decode=True, verbose=0)[0] in ("neg", "pos")
