"""Export kbert encoders and task models as Hugging Face `transformers` folders.

    kbert export hf --model runs/sentiment --out hf/sentiment

writes `config.json` (with `architectures`, `id2label` / `label2id`), `model.safetensors` and the
tokenizer files (`vocab.txt` or `spiece.model` + `tokenizer_config.json`), which
`transformers.AutoModelFor...from_pretrained(DIR)` and `AutoTokenizer.from_pretrained(DIR)` load without
remote code. What maps to which stock class:

| kbert model                                  | transformers class                          |
|----------------------------------------------|---------------------------------------------|
| encoder (a backbone, task "encoder")         | `BertModel` / `DistilBertModel` / `AlbertModel` |
| classify, pooling "pooled"                   | `*ForSequenceClassification`                |
| classify, pooling "cls" (BERT, ALBERT)        | `*ForSequenceClassification`, see below     |
| ner                                          | `*ForTokenClassification`                   |
| qa                                           | `*ForQuestionAnswering`                     |

Stock BERT/ALBERT sequence classifiers always run the tanh pooler over [CLS]. A "cls" head (a Dense
layer on the raw [CLS] state) is written with the pooler set to `tanh(eps * x)` and the classifier
scaled by `1 / eps` (eps = 1e-4): `tanh(eps x) / eps = x (1 - (eps x)^2 / 3 + ...)`, a relative
error below 1e-6 for hidden values up to 100 -- the same logits to float32 precision (tests check
1e-4). Fine-tuning it further in `transformers` trains that pooler like any other.

A mean-pooling head (the quickstart's MiniLM classifier) has no stock class: it is refused with a
one-line message. `--encoder-only` exports its encoder as `*Model` plus the head beside it:
`head.safetensors` (`classifier.weight` [labels, hidden], `classifier.bias`, and `pre_classifier.*`
where there is one) and `head.json` (task, pooling, labels, multi_label); docs/interop.md shows the
few lines of `transformers` code that reproduce the classifier from them (tested).

Weights are mapped with keras-hub's own checkpoint converters run backwards: each converter names, for
every Keras variable, the Hugging Face tensor and the transpose/reshape that produced it; kbert inverts
the transform and checks that applying the converter's transform to the result gives the Keras value
back exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from kbert.errors import KbertInputError

FAMILY_CLASS = {"bert": "Bert", "distilbert": "DistilBert", "albert": "Albert"}
TASK_SUFFIX = {"encoder": "Model", "embed": "Model", "classify": "ForSequenceClassification",
               "ner": "ForTokenClassification", "qa": "ForQuestionAnswering"}
SUPPORTED = ("encoder", "classify (pooling 'pooled'; 'cls' for BERT/ALBERT)", "ner", "qa")
CLS_EPS = 1e-4
EXPORT_MARK = "kbert_export"  # config.json key: the folder was written by kbert (may be replaced)


# ------------------------------------------------------------------------------------------ config
def hf_config(family: str, backbone) -> dict:
    """The Hugging Face `config.json` fields of a kbert backbone (the inverse of `convert_config`)."""
    from kbert.checkpoints.hf import HF_CONFIG_KEYS

    config = backbone.get_config()
    ours = {**config, "hidden_activation": config.get("hidden_activation", "gelu")}
    out = {"model_type": family}
    for theirs, key in HF_CONFIG_KEYS[family].items():
        if key in ours:
            out[theirs] = ours[key]
    if family == "distilbert":
        out.update(attention_dropout=ours["dropout"], activation="gelu", sinusoidal_pos_embds=False)
        if ours["hidden_activation"] != "gelu":
            raise KbertInputError(f"a DistilBERT encoder with {ours['hidden_activation']!r} has no transformers form")
    else:
        out.update(attention_probs_dropout_prob=ours["dropout"], layer_norm_eps=1e-12,
                   position_embedding_type="absolute")
    out["pad_token_id"] = 0
    return out


# ----------------------------------------------------------------------------------------- weights
class _Recorder:
    """Stands in for kbert's checkpoint loader: the converter tells it, variable by variable, which HF
    tensor it would read and how it would transform it."""

    def __init__(self):
        self.records = []

    def get_tensor(self, key):  # BERT's converter probes the LayerNorm naming: modern "weight"/"bias"
        raise KeyError(key)

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        self.records.append((hf_weight_key, keras_variable, hook_fn))


def _hf_tensor(key, variable, hook_fn, hidden_dim: int) -> np.ndarray:
    value = np.asarray(variable.numpy(), dtype=np.float32)
    if hook_fn is None:
        tensor = value
    elif value.ndim == 1 or (value.ndim == 2 and "bias" in key):
        tensor = value.reshape(-1)  # biases: [heads, head_dim] -> [hidden]
    else:
        # torch Linear weights are [out, in]; the converters transpose to [in, out] then reshape to the
        # Keras kernel: [in, out] (Dense), [hidden, heads, head_dim] (q/k/v), [heads, head_dim, hidden] (output).
        split = 1 if value.ndim == 2 or value.shape[0] == hidden_dim else value.ndim - 1
        tensor = value.reshape(int(np.prod(value.shape[:split])), -1).T
    tensor = np.ascontiguousarray(tensor)
    back = tensor if hook_fn is None else hook_fn(tensor, list(variable.shape))
    if tuple(np.shape(back)) != tuple(variable.shape) or not np.array_equal(back, value):
        raise RuntimeError(f"exporting {variable.path} as {key!r}: the converter's transform does not invert")
    return tensor


def encoder_tensors(family: str, backbone, prefix: str = "") -> dict:
    """HF tensor name -> array for `backbone` (names as `transformers`' `*Model`, or with `prefix`)."""
    from kbert._compat.keras_hub_convert import converter

    recorder = _Recorder()
    converter(family).convert_weights(backbone, recorder, {})
    bare = family + "."
    tensors = {}
    for key, variable, hook in recorder.records:
        name = key[len(bare):] if key.startswith(bare) else key
        tensors[prefix + name] = _hf_tensor(key, variable, hook, backbone.hidden_dim)
    return tensors


def _dense(layer):
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
    return np.ascontiguousarray(kernel.T), bias


# ------------------------------------------------------------------------------------------- heads
def head_of(model, task: str, family: str) -> dict:
    """What the task head is: {"pooling", "dense", "pre_classifier"} read from the model's own layers
    (the task class's config when the model has one)."""
    import keras

    from kbert.tasks.classifier import ClsToken
    from kbert.tasks.embedder import MaskedMeanPooling

    layers = list(getattr(model, "layers", []))
    dense = [l for l in layers if isinstance(l, keras.layers.Dense)]
    if task in ("encoder", "embed"):
        return {}
    if not dense:
        raise KbertInputError(f"the {task} model has no Dense output layer to export")
    head = {"dense": dense[-1]}
    if task == "classify":
        pooling = getattr(model, "pooling", None)
        if pooling is None and hasattr(model, "get_config"):
            try:  # a kbert task class records its pooling in its config
                pooling = model.get_config().get("pooling")
            except (NotImplementedError, TypeError, AttributeError):
                pooling = None
        if pooling is None:
            if any(isinstance(l, MaskedMeanPooling) for l in layers):
                pooling = "mean"
            elif any(isinstance(l, ClsToken) for l in layers):
                pooling = "pooled" if family == "distilbert" and len(dense) >= 2 else "cls"
            else:
                pooling = "pooled"
        head["pooling"] = pooling
        if pooling == "pooled" and family == "distilbert":
            head["pre_classifier"] = dense[-2]
    return head


def _refuse(reason: str):
    raise KbertInputError(f"{reason} has no stock transformers class; supported: {', '.join(SUPPORTED)} "
                          "(or pass --encoder-only: the encoder plus head.safetensors/head.json, "
                          "applied as in docs/interop.md)")


def head_file(model, task: str, family: str) -> tuple[dict, dict]:
    """(tensors, description) of a task head, for `--encoder-only` exports (`head.safetensors`, `head.json`)."""
    head = head_of(model, task, family)
    tensors = {}
    name = "qa_outputs" if task == "qa" else "classifier"
    tensors[name + ".weight"], tensors[name + ".bias"] = _dense(head["dense"])
    if "pre_classifier" in head:
        tensors["pre_classifier.weight"], tensors["pre_classifier.bias"] = _dense(head["pre_classifier"])
    info = {"task": task, "pooling": head.get("pooling"), "activation_after_pre_classifier":
            "relu" if "pre_classifier" in head else None}
    return tensors, info


def export_tensors(model, backbone, family: str, task: str, num_labels: int | None = None) -> tuple[dict, str]:
    """(tensors, architecture) for a kbert model: its encoder plus the head mapped to the stock class."""
    head = head_of(model, task, family)
    arch = FAMILY_CLASS[family] + TASK_SUFFIX[task]
    if task in ("encoder", "embed"):
        return encoder_tensors(family, backbone), FAMILY_CLASS[family] + "Model"
    tensors = encoder_tensors(family, backbone, prefix=family + ".")
    kernel, bias = _dense(head["dense"])
    name = "qa_outputs" if task == "qa" else "classifier"
    if task == "classify":
        pooling = head["pooling"]
        if pooling == "mean":
            _refuse("a mean-pooling classifier")
        if pooling == "cls" and family == "distilbert":
            _refuse("a DistilBERT classifier on the raw [CLS] state (pooling 'cls')")
        if pooling == "cls":  # pooler tanh(eps x), classifier scaled by 1/eps (module docstring)
            pool = "albert.pooler" if family == "albert" else f"{family}.pooler.dense"
            hidden = backbone.hidden_dim
            tensors[pool + ".weight"] = np.eye(hidden, dtype=np.float32) * CLS_EPS
            tensors[pool + ".bias"] = np.zeros(hidden, np.float32)
            kernel = kernel / CLS_EPS
        if "pre_classifier" in head:
            tensors["pre_classifier.weight"], tensors["pre_classifier.bias"] = _dense(head["pre_classifier"])
    tensors[name + ".weight"], tensors[name + ".bias"] = np.ascontiguousarray(kernel, np.float32), bias
    if task == "qa" and kernel.shape[0] != 2:
        raise KbertInputError(f"the QA head has {kernel.shape[0]} outputs, expected 2 (start, end)")
    return tensors, arch


# ------------------------------------------------------------------------------------------ export
def _check_out(out: str, overwrite: bool):
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise KbertInputError(f"--out {out} exists and is not a folder")
    entries = os.listdir(out)
    if not entries:
        return
    mark = False
    try:
        with open(os.path.join(out, "config.json")) as f:
            mark = EXPORT_MARK in json.load(f)
    except (OSError, ValueError):
        pass
    if not mark:
        raise KbertInputError(f"--out {out} exists and is not a kbert Hugging Face export (it holds "
                              f"{', '.join(sorted(entries)[:5])}); choose another folder")
    if not overwrite:
        raise KbertInputError(f"--out {out} holds an earlier export; pass --overwrite to replace it")


def export_hf(model_dir, out: str, encoder_only: bool = False, overwrite: bool = False) -> dict:
    """Write `model_dir` (a kbert model directory, a task model object such as `kbert.TextClassifier`,
    or a HF checkpoint folder / Hub name) as a `transformers` folder `out`, atomically.
    Returns {"path", "architecture", "tensors", "task"}."""
    import kbert
    from kbert import tokenizers
    from kbert.atomic import publish_dir
    from kbert.models import family_of

    out = os.fspath(out)
    _check_out(out, overwrite)
    labels, multi_label, seq_len = None, False, None
    if callable(getattr(model_dir, "export_meta", None)):  # a kbert task model object (TextClassifier, ...)
        model, meta = model_dir, model_dir.export_meta()
        backbone, tokenizer, task = model.backbone, model.tokenizer, meta["task"]
        labels, seq_len, multi_label = meta.get("labels"), meta.get("seq_len"), bool(meta.get("multi_label"))
        model_dir = f"<{type(model).__name__} object>"
    elif os.path.isfile(os.path.join(os.fspath(model_dir), "kbert.json")):
        model_dir = os.fspath(model_dir)
        from kbert.model_dir import _find_backbone, load_model_dir

        md = load_model_dir(model_dir)
        model, tokenizer, task = md.model, md.tokenizer, md.task
        backbone = getattr(model, "backbone", None) or _find_backbone(model) or model
        labels, seq_len = md.labels, md.seq_len
        multi_label = bool(md.meta.get("multi_label", False))
    else:
        from kbert.checkpoints.hf import load_hf

        model_dir = os.fspath(model_dir)
        ck = load_hf(model_dir)
        model = backbone = ck.backbone
        tokenizer, task = ck.tokenizer, "encoder"
    if task not in TASK_SUFFIX and not encoder_only:
        raise KbertInputError(f"{model_dir}: task {task!r} cannot be exported to transformers; "
                              f"supported: {', '.join(SUPPORTED)} (--encoder-only exports its encoder)")
    family = family_of(backbone)
    head = None
    if encoder_only:
        if task in ("classify", "ner", "qa"):
            head = head_file(model, task, family)
            head[1].update(labels=labels, multi_label=multi_label)
        task, model = "encoder", backbone
    tensors, arch = export_tensors(model, backbone, family, task)
    config = {"architectures": [arch], **hf_config(family, backbone)}
    if task in ("classify", "ner"):
        n = tensors["classifier.bias"].shape[0]
        names = list(labels) if labels and len(labels) == n else [f"LABEL_{i}" for i in range(n)]
        config["id2label"] = {str(i): l for i, l in enumerate(names)}
        config["label2id"] = {l: i for i, l in enumerate(names)}
        if task == "classify":
            config["problem_type"] = "multi_label_classification" if multi_label else "single_label_classification"
    source = model_dir if model_dir.startswith("<") else os.path.abspath(model_dir)
    config[EXPORT_MARK] = {"kbert_version": kbert.__version__, "task": task, "source": source}

    from safetensors.numpy import save_file

    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(out) + "-", dir=parent)
    try:
        save_file(tensors, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        if head is not None:
            save_file(head[0], os.path.join(tmp, "head.safetensors"), metadata={"format": "pt"})
            with open(os.path.join(tmp, "head.json"), "w") as f:
                json.dump(head[1], f, indent=2)
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        if tokenizer is not None:
            tokenizers.save(tokenizer, tmp)
            _add_tokenizer_fields(tmp, family, seq_len or config.get("max_position_embeddings"))
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": out, "architecture": arch, "tensors": len(tensors), "task": task}


def _add_tokenizer_fields(folder: str, family: str, max_length):
    path = os.path.join(folder, "tokenizer_config.json")
    with open(path) as f:
        config = json.load(f)
    if family == "distilbert" and config.get("tokenizer_class") == "BertTokenizer":
        config["tokenizer_class"] = "DistilBertTokenizer"
    if max_length:
        config["model_max_length"] = int(max_length)
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
