"""Fine-tune an encoder for classification, NER or extractive QA.

--model is a preset (random weights; BERT/DistilBERT presets use the uncased BERT vocabulary of the
real MiniLM checkpoint, ALBERT presets need --tokenizer), a Hugging Face checkpoint folder, a kbert
model directory (its encoder), or `minilm` (the real all-MiniLM-L6-v2). --data is a named real set,
a TFDS name or a local file:

  classify: tweets (38k sentiment tweets, 3 classes), pang_lee (200 reviews), tfds:glue/sst2,
            tfds:glue/mnli, tfds:imdb_reviews, FILE.csv|.tsv|.jsonl (--text-column, --label-column,
            --text-b-column for pairs, --multi-label with "a|b" labels)
  ner:      wnut16, tfds:conll2003, FILE.conll|.txt (token ... tag per line)
  qa:       handwritten (kbert's 35 SQuAD v2 questions), tfds:squad, tfds:squad/v2.0, FILE.json|.jsonl

Without --eval-data, local and named sets are split 80/10/10 (train/validation/test, seeded);
TFDS sets use their train and validation splits. Training shows a progress bar, stops early on
the validation loss (--patience), keeps the best weights, and resumes after a crash when rerun
with the same --out (Keras BackupAndRestore in OUT/training). OUT becomes a kbert model directory
(`kbert export tflite --model OUT` reads it) holding also metrics.json, history.csv,
training_curves.png and, for classification, confusion_matrix.png.

examples:
  kbert finetune --task classify --model minilm --data tweets --limit 2000 --epochs 2 --out runs/tweets
  kbert finetune --task ner --model minilm --data wnut16 --epochs 3 --out runs/wnut
  kbert finetune --task qa --model bert_tiny --data handwritten --epochs 30 --out runs/qa
  kbert finetune --config kbert/configs/finetune_sentiment.json --out runs/tweets
"""

from __future__ import annotations

import json
import os
import time

from kbert.training.curves import plot_history

DEFAULTS = dict(
    task="classify",
    model="minilm",
    tokenizer=None,           # tokenizer folder (ALBERT presets need one)
    data="tweets",
    eval_data=None,
    text_column="text", label_column="label", text_b_column=None, multi_label=False,
    limit=None,               # use at most this many training examples (seeded sample)
    eval_limit=None,          # and this many validation / test examples
    seq_len=128,
    batch_size=32,
    epochs=3,
    learning_rate=5e-5,
    weight_decay=0.01,
    warmup=0.1,               # fraction of steps with a linear warm-up
    dropout=0.1,
    pooling="pooled",         # classify: pooled / cls / mean
    o_weight=1.0,             # ner: loss weight of the "O" tag (< 1 counters all-"O" predictions)
    patience=2,               # early stopping on val_loss
    doc_stride=128, max_query_len=64, max_answer_len=30, null_threshold=0.0,
    seed=0,
)


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (keys as in kbert/configs/finetune_*.json)")
    p.add_argument("--task", choices=["classify", "ner", "qa"])
    p.add_argument("--model", help="preset, HF checkpoint folder or Hub name (bert-base-uncased, hf://owner/name), "
                   "kbert model dir, or 'minilm' (default)")
    p.add_argument("--tokenizer", help="tokenizer folder (needed for ALBERT presets)")
    p.add_argument("--data", help="named set, tfds:NAME or a file (see above)")
    p.add_argument("--eval-data", help="validation file (default: split --data)")
    p.add_argument("--text-column"), p.add_argument("--label-column"), p.add_argument("--text-b-column")
    p.add_argument("--multi-label", action="store_true", default=None)
    p.add_argument("--limit", type=int, help="at most N training examples")
    p.add_argument("--eval-limit", type=int, help="at most N validation and N test examples")
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--dropout", type=float)
    p.add_argument("--pooling", choices=["pooled", "cls", "mean"])
    p.add_argument("--o-weight", type=float, help="ner: loss weight of the 'O' tag, in (0, 1] (default 1)")
    p.add_argument("--patience", type=int, help="epochs without val_loss improvement before stopping")
    p.add_argument("--doc-stride", type=int), p.add_argument("--max-answer-len", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", required=True, help="output model directory")


def load_config(args) -> dict:
    from kbert.errors import KbertInputError

    from kbert.cli.config import merge

    config = merge(DEFAULTS, args)
    if config["task"] not in ("classify", "ner", "qa"):
        raise KbertInputError(f"unknown task {config['task']!r}; expected classify, ner or qa")
    for key in ("epochs", "batch_size", "seq_len"):
        if int(config[key]) < 1:
            raise KbertInputError(f"{key} must be >= 1")
    # questions may take at most half of a short window (the default 64 suits seq_len >= 128)
    config["max_query_len"] = min(int(config["max_query_len"]), int(config["seq_len"]) // 2)
    return config


def validate(args):
    """Checks before anything is imported or trained (kbert.cli runs this before `run`)."""
    from kbert.output_dir import check_output_dir
    from kbert.validation import check_finetune

    check_finetune(load_config(args))
    check_output_dir(args.out)


# ---------------------------------------------------------------- model


def load_encoder(name: str, tokenizer_dir=None, seq_len: int = 128):
    """(encoder, tokenizer, family, source) for a preset, 'minilm', an HF folder or a kbert model dir."""
    from kbert import assets, models, tokenizers
    from kbert.errors import KbertInputError
    from kbert.model_dir import META_FILE, _find_backbone, load_model_dir
    from kbert.presets import PRESETS, get_preset

    if name == "minilm":
        name = assets.minilm_dir()
    if os.path.isdir(name) and os.path.isfile(os.path.join(name, META_FILE)):
        md = load_model_dir(name)
        enc = getattr(md.model, "backbone", None) or _find_backbone(md.model)
        if enc is None:
            raise KbertInputError(f"{name}: no encoder found in the model")
        tok = tokenizers.from_folder(tokenizer_dir, models.family_of(enc)) if tokenizer_dir else md.tokenizer
        return enc, tok, models.family_of(enc), name
    if os.path.isdir(name):
        from kbert.checkpoints.hf import load_hf

        ck = load_hf(name)
        tok = tokenizers.from_folder(tokenizer_dir, ck.family) if tokenizer_dir else ck.tokenizer
        return ck.backbone, tok, ck.family, name
    from kbert.checkpoints.hf import names_hub_repo

    if name not in PRESETS and names_hub_repo(name):
        from kbert.checkpoints.hf import load_hf

        ck = load_hf(name)  # a Hugging Face Hub name: bert-base-uncased, hf://owner/name
        tok = tokenizers.from_folder(tokenizer_dir, ck.family) if tokenizer_dir else ck.tokenizer
        return ck.backbone, tok, ck.family, name
    preset = get_preset(name)
    if tokenizer_dir:
        tok = tokenizers.from_folder(tokenizer_dir, preset.family)
    elif preset.family == "albert":
        raise KbertInputError(f"--model {name} is an ALBERT preset: pass --tokenizer DIR with its spiece.model")
    else:
        tok = tokenizers.wordpiece(os.path.join(assets.minilm_dir(), "vocab.txt"), family=preset.family)
    max_len = max(seq_len, preset.config.get("max_sequence_length", 512))
    enc = models.backbone(name, vocabulary_size=int(tok.vocabulary_size()), max_sequence_length=max_len)
    return enc, tok, preset.family, f"preset {name} (random weights)"


# ---------------------------------------------------------------- data


def _sample(data, n, seed):
    import numpy as np

    if n is None or n >= len(data):
        return data
    return data.subset(np.sort(np.random.default_rng(seed).permutation(len(data))[:n]))


def _sample_list(items, n, seed):
    import numpy as np

    if n is None or n >= len(items):
        return items
    return [items[i] for i in np.sort(np.random.default_rng(seed).permutation(len(items))[:n])]


class _Listing:  # a list with .subset, so QA examples split like the other containers
    def __init__(self, items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def subset(self, index):
        return _Listing([self.items[i] for i in index])


def read_data(config, spec: str, label_names=None):
    """Load one --data value for config['task'] (a ClassificationData, NerData or _Listing).

    `label_names` (the training data's) fixes the label ids: an evaluation file must use them, and a
    label it holds that training never saw is an error naming the file and row."""
    from kbert import assets
    from kbert.data import datasets
    from kbert.errors import KbertInputError

    task = config["task"]
    named = {"classify": {"tweets": datasets.sentiment_tweets, "pang_lee": datasets.pang_lee_polarity},
             "ner": {"wnut16": datasets.wnut16},
             "qa": {"handwritten": lambda: datasets.read_squad(
                 os.path.join(os.path.dirname(assets.__file__), "data", "qa", "handwritten_qa.json"))}}[task]
    if spec in named:
        data = named[spec]()
    elif spec.startswith("tfds:"):
        name, _, split = spec[5:].partition(":")
        if datasets.TFDS.get(name, {}).get("task") != task:
            raise KbertInputError(f"--data {spec}: not a {task} dataset; TFDS sets for {task}: "
                                  f"{[n for n, s in datasets.TFDS.items() if s['task'] == task]}")
        data = datasets.load_tfds(name, split or "train")
    elif os.path.isfile(spec):
        if task == "classify":
            if spec.endswith(".jsonl"):
                data = datasets.read_jsonl_classification(spec, config["text_column"], config["label_column"],
                                                          config["text_b_column"], label_names=label_names,
                                                          multi_label=config["multi_label"])
            else:
                data = datasets.read_csv(spec, config["text_column"], config["label_column"], config["text_b_column"],
                                         label_names=label_names, multi_label=config["multi_label"])
        elif task == "ner":
            data = datasets.read_conll(spec, label_names=label_names)
        else:
            data = datasets.read_squad(spec)
    else:
        raise KbertInputError(f"--data {spec}: not a file, a tfds: name, or one of {sorted(named)}")
    return _Listing(data) if task == "qa" else data


def splits(config):
    """(train, validation, test) containers following the module docstring's rules."""
    from kbert.data import datasets

    data = read_data(config, config["data"])
    seed = int(config["seed"])
    if config["eval_data"]:
        # the evaluation file's labels take the training data's ids (never a list of its own)
        train = data
        evaluation = read_data(config, config["eval_data"], None if config["task"] == "qa" else data.label_names)
        val, test = evaluation, evaluation
    elif config["data"].startswith("tfds:") and ":" not in config["data"][5:]:
        name = config["data"][5:]
        val_split = {"glue/mnli": "validation_matched", "imdb_reviews": "test", "conll2003": "dev"}.get(
            name, "validation")
        train, val = data, read_data(config, f"tfds:{name}:{val_split}")
        test = val
    else:
        strat = getattr(data, "y", None)
        strat = strat if strat is not None and strat.ndim == 1 else None
        tr, va, te = datasets.split(len(data), (0.8, 0.1, 0.1), seed=seed, stratify=strat)
        train, val, test = data.subset(tr), data.subset(va), data.subset(te)
    return (_sample(train, config["limit"], seed), _sample(val, config["eval_limit"], seed + 1),
            _sample(test, config["eval_limit"], seed + 2))


def features(config, task_data, tokenizer, family, labels=None, training=True):
    """(inputs dict of arrays, labels dict of arrays, extra) for one split."""
    import numpy as np

    from kbert.data import tasks
    from kbert.preprocessing import preprocessor_for

    seq_len, segments = int(config["seq_len"]), family != "distilbert"
    if config["task"] == "classify":
        pre = preprocessor_for(tokenizer, family, seq_len)
        x = task_data.inputs()
        chunks = []
        for i in range(0, len(task_data), 1024):
            part = tuple(t[i:i + 1024] for t in x) if isinstance(x, tuple) else x[i:i + 1024]
            chunks.append({k: v.numpy() for k, v in pre(part).items()})
        inputs = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        extra = {"truncated": tasks.count_truncated(tokenizer, task_data.texts, seq_len, task_data.texts_b)}
        return inputs, {"logits": task_data.y}, extra
    if config["task"] == "ner":
        f = tasks.ner_features(tokenizer, task_data.sentences, task_data.tags, labels or task_data.label_names,
                               seq_len, segments, on_error="skip")
        return tasks.model_inputs(f), {"logits": f["labels"]}, f
    f = tasks.qa_features(tokenizer, task_data.items, seq_len, int(config["doc_stride"]), int(config["max_query_len"]),
                          segments, training=training, on_error="skip")
    return tasks.model_inputs(f), {"start_logits": f["start_positions"], "end_logits": f["end_positions"]}, f


def build_model(config, encoder, num_labels):
    from kbert.tasks.classifier import build_classifier
    from kbert.tasks.question_answerer import build_question_answerer
    from kbert.tasks.token_classifier import build_token_classifier

    if config["task"] == "classify":
        return build_classifier(encoder, num_labels, bool(config["multi_label"]), float(config["dropout"]),
                                config["pooling"])
    if config["task"] == "ner":
        return build_token_classifier(encoder, num_labels, float(config["dropout"]))
    return build_question_answerer(encoder, float(config["dropout"]))


def compile_model(config, model, steps):
    import keras

    from kbert.tasks.classifier import compile_classifier
    from kbert.tasks.question_answerer import compile_question_answerer
    from kbert.tasks.token_classifier import compile_token_classifier

    lr, warm = float(config["learning_rate"]), int(float(config["warmup"]) * steps)
    schedule = keras.optimizers.schedules.PolynomialDecay(lr, max(steps - warm, 1), end_learning_rate=0.0)
    if warm:
        schedule = keras.optimizers.schedules.CosineDecay(0.0, max(steps - warm, 1), alpha=0.0, warmup_target=lr,
                                                          warmup_steps=warm)
    opt = keras.optimizers.AdamW(schedule, weight_decay=float(config["weight_decay"]), global_clipnorm=1.0)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "layer_norm"])
    compile_fn = {"classify": compile_classifier, "ner": compile_token_classifier,
                  "qa": compile_question_answerer}[config["task"]]
    if config["task"] == "classify":
        return compile_fn(model, multi_label=bool(config["multi_label"]), optimizer=opt)
    if config["task"] == "ner":
        return compile_fn(model, optimizer=opt, o_weight=float(config.get("o_weight", 1.0)))
    return compile_fn(model, optimizer=opt)


# ---------------------------------------------------------------- evaluation


def evaluate(config, model, x, y, extra, labels, task_data):
    """Task metrics on one split (accuracy/macro-F1, entity F1, or SQuAD EM/F1)."""
    from kbert.tasks import metrics

    out = model.predict(x, batch_size=64, verbose=0)
    if config["task"] == "classify":
        logits = out["logits"]
        if config["multi_label"]:
            pred = (logits > 0).astype("float32")
            return {"accuracy": float((pred == y["logits"]).all(-1).mean()),
                    "label_accuracy": float((pred == y["logits"]).mean()), "n": int(len(pred))}
        pred = logits.argmax(-1)
        gold = y["logits"]
        return {"accuracy": metrics.accuracy(gold, pred),
                "macro_f1": metrics.macro_f1(gold, pred, list(range(len(labels)))),
                "confusion_matrix": metrics.confusion_matrix(gold, pred, len(labels)).tolist(),
                "n": int(len(pred))}
    if config["task"] == "ner":
        from kbert.tasks.token_classifier import word_predictions

        pred = word_predictions(out["logits"], extra["word_index"], extra["num_words"], labels)
        gold = [task_data.tags[r - 1] for r in extra["rows"]]
        r = metrics.entity_f1(gold, pred)
        return {k: r[k] for k in ("precision", "recall", "f1", "gold", "predicted", "correct")} | {
            "n": len(gold), "per_type_f1": {k: v["f1"] for k, v in r["per_type"].items()}}
    from kbert.tasks.question_answerer import postprocess

    exs = extra["examples"]
    v2 = any(not e["answers"]["text"] for e in exs)
    preds = postprocess(extra, out["start_logits"], out["end_logits"], [e["context"] for e in exs],
                        max_answer_len=int(config["max_answer_len"]), allow_no_answer=v2,
                        null_threshold=float(config["null_threshold"]))
    s = metrics.squad_scores([p["text"] for p in preds], [e["answers"]["text"] for e in exs])
    return s | {"n": len(exs), "windows": int(len(extra["example_index"])),
                "examples": [{"id": e.get("id"), "question": e["question"], "prediction": p["text"],
                              "gold": e["answers"]["text"]} for e, p in list(zip(exs, preds))[:20]]}


def plot_confusion(matrix, labels, png, title="confusion matrix (test)"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


# ---------------------------------------------------------------- main


def finetune(config, out, say=print, verbose=1) -> dict:
    """Run one fine-tuning job; returns the metrics dict (also written to OUT/metrics.json)."""
    import keras

    from kbert.model_dir import save_model_dir
    from kbert.training.callbacks import epoch_checkpoints

    t0 = time.time()
    keras.utils.set_random_seed(int(config["seed"]))
    task = config["task"]
    train, val, test = splits(config)  # bad data is reported before a model is built
    encoder, tokenizer, family, source = load_encoder(config["model"], config["tokenizer"], int(config["seq_len"]))
    say(f"encoder: {source} ({family}, {encoder.count_params():,} parameters)")
    labels = None if task == "qa" else train.label_names
    say(f"data: {config['data']}: {len(train)} train / {len(val)} validation / {len(test)} test"
        + (f", labels {labels}" if labels else ""))
    x_tr, y_tr, ex_tr = features(config, train, tokenizer, family, labels)
    x_va, y_va, ex_va = features(config, val, tokenizer, family, labels, training=False)
    x_te, y_te, ex_te = (x_va, y_va, ex_va) if test is val else features(config, test, tokenizer, family, labels,
                                                                          training=False)
    model = build_model(config, encoder, len(labels) if labels else 0)
    batch, epochs = int(config["batch_size"]), int(config["epochs"])
    steps = epochs * -(-len(next(iter(x_tr.values()))) // batch)
    compile_model(config, model, steps)
    work = os.path.join(out, "training")
    os.makedirs(work, exist_ok=True)
    history_csv = os.path.join(work, "history.csv")
    callbacks = epoch_checkpoints(work, "val_loss", patience=int(config["patience"])) + [
        keras.callbacks.CSVLogger(history_csv, append=True)]
    t1, c1 = time.time(), time.process_time()
    model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs, batch_size=batch, callbacks=callbacks,
              verbose=verbose)
    train_s, train_cpu = time.time() - t1, time.process_time() - c1
    if os.path.exists(os.path.join(work, "best.weights.h5")):
        model.load_weights(os.path.join(work, "best.weights.h5"))  # also right after a resumed run
    result = {"task": task, "model": source, "family": family, "data": config["data"],
              "sizes": {"train": len(train), "validation": len(val), "test": len(test)},
              "validation": evaluate(config, model, x_va, y_va, ex_va, labels, val),
              "test": evaluate(config, model, x_te, y_te, ex_te, labels, test),
              "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1), "total_seconds": None, "config": config}
    if task == "classify":
        result["truncated"] = {"train": ex_tr["truncated"], "validation": ex_va["truncated"]}
    else:
        result["feature_stats"] = {"train": ex_tr["stats"], "validation": ex_va["stats"]}
    meta = {"metrics": {k: v for k, v in result["test"].items() if isinstance(v, (int, float))}}
    if task == "classify":
        meta.update(pair=train.texts_b is not None, multi_label=bool(config["multi_label"]))
    if task == "qa":
        meta.update(doc_stride=int(config["doc_stride"]), max_query_len=int(config["max_query_len"]),
                    max_answer_len=int(config["max_answer_len"]))
    history = open(history_csv).read() if os.path.exists(history_csv) else ""
    save_model_dir(out, model, tokenizer, task=task, seq_len=int(config["seq_len"]), labels=labels, family=family,
                   **meta)
    with open(os.path.join(out, "history.csv"), "w") as f:
        f.write(history)
    plots = [plot_history(os.path.join(out, "history.csv"), os.path.join(out, "training_curves.png"))]
    if task == "classify" and "confusion_matrix" in result["test"]:
        plots.append(plot_confusion(result["test"]["confusion_matrix"], labels,
                                    os.path.join(out, "confusion_matrix.png")))
    result["plots"] = [os.path.basename(p) for p in plots if p]
    result["total_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    return result


def summary(result) -> str:
    t = result["test"]
    if result["task"] == "classify":
        figs = f"accuracy {t['accuracy']:.4f}" + (f", macro-F1 {t['macro_f1']:.4f}" if "macro_f1" in t else "")
    elif result["task"] == "ner":
        figs = f"entity P {t['precision']:.4f} R {t['recall']:.4f} F1 {t['f1']:.4f}"
    else:
        figs = f"EM {t['exact_match']:.1f}, F1 {t['f1']:.1f}"
    return f"test ({t['n']} examples): {figs}; trained in {result['train_seconds']:.0f}s"


def run(args):
    config = load_config(args)
    say = (lambda *a: None) if args.quiet or args.json else print
    result = finetune(config, args.out, say=say, verbose=0 if args.quiet or args.json else 1)
    say(summary(result))
    say(f"model directory: {args.out} (kbert export tflite --model {args.out})")
    if args.json:
        print(json.dumps({"ok": True, "out": args.out, "test": {k: v for k, v in result["test"].items()
                                                                if isinstance(v, (int, float))}}))
    return 0
