"""Argument checks that need no TensorFlow, run by the CLI before anything is imported or built, so
a bad input exits 2 at once with a line naming the flag and the value.

    >>> check_range("limit", 0, low=1)
    Traceback (most recent call last):
    ...
    kbert.errors.KbertInputError: --limit must be >= 1, got 0

The training memory estimate (`activation_bytes`) refuses a batch x heads x seq^2 x layers that
cannot fit in the memory available, before a tensor is allocated (on Linux a real out-of-memory
usually kills the process with no error to report).
"""

from __future__ import annotations

import json
import os
import zipfile

from kbert.errors import KbertInputError

MINILM = {"max_sequence_length": 512, "num_layers": 6, "num_heads": 12, "hidden_dim": 384}  # all-MiniLM-L6-v2


def check_range(name: str, value, low=None, high=None, low_open=False, flag=True):
    """`value` within [low, high] (or (low, high] with `low_open`); None passes (a default applies)."""
    if value is None:
        return
    shown = f"--{name.replace('_', '-')}" if flag else name
    if low is not None and (value <= low if low_open else value < low):
        raise KbertInputError(f"{shown} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise KbertInputError(f"{shown} must be <= {high}, got {value}")


def model_shape(spec) -> dict | None:
    """{max_sequence_length, num_layers, num_heads, hidden_dim} of a --model value, read from a preset,
    a Hugging Face config.json or a kbert model directory's model.keras, without building it; None when
    unknown."""
    if spec is None:
        return None
    spec = os.fspath(spec)
    if spec == "minilm":
        return dict(MINILM)
    if os.path.isdir(spec):
        if os.path.isfile(os.path.join(spec, "model.keras")):
            return _keras_file_shape(os.path.join(spec, "model.keras"))
        if os.path.isfile(os.path.join(spec, "config.json")):
            return _hf_shape(os.path.join(spec, "config.json"))
        return None
    from kbert.presets import PRESETS

    preset = PRESETS.get(spec)
    if preset is None:
        return None
    c = preset.config
    return {"max_sequence_length": int(c.get("max_sequence_length", 512)), "num_layers": int(c["num_layers"]),
            "num_heads": int(c["num_heads"]), "hidden_dim": int(c["hidden_dim"])}


def _hf_shape(path):
    try:
        with open(path) as f:
            c = json.load(f)
        return {"max_sequence_length": int(c.get("max_position_embeddings", 512)),
                "num_layers": int(c.get("num_hidden_layers", c.get("n_layers", 0))),
                "num_heads": int(c.get("num_attention_heads", c.get("n_heads", 0))),
                "hidden_dim": int(c.get("hidden_size", c.get("dim", 0)))}
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # the loader reports a broken config with its own message


def _keras_file_shape(path):
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    found = _find_backbone_config(config)
    if not found:
        return None
    return {"max_sequence_length": int(found.get("max_sequence_length", 512)), "num_layers": int(found["num_layers"]),
            "num_heads": int(found["num_heads"]), "hidden_dim": int(found["hidden_dim"])}


def _find_backbone_config(node):
    if isinstance(node, dict):
        if {"num_layers", "num_heads", "hidden_dim"} <= set(node):
            return node
        for value in node.values():
            found = _find_backbone_config(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_backbone_config(value)
            if found:
                return found
    return None


def check_seq_len(seq_len, shape: dict | None, minimum: int = 3, what: str = "--model"):
    """seq_len >= `minimum` (room for [CLS], a token and [SEP]) and <= the model's max_sequence_length."""
    if seq_len is None:
        return
    if seq_len < minimum:
        raise KbertInputError(f"--seq-len must be >= {minimum} (room for [CLS], text and [SEP]), got {seq_len}")
    if shape and seq_len > shape["max_sequence_length"]:
        raise KbertInputError(f"--seq-len {seq_len} is above the model's max_sequence_length "
                              f"{shape['max_sequence_length']} ({what}); its position embeddings end there")


def activation_bytes(batch: int, seq_len: int, shape: dict, training: bool = True) -> int:
    """A lower estimate of the float32 activations one step keeps: per layer, the attention scores
    (batch x heads x seq^2; with softmax output and dropout mask for training) and about 16 hidden-size
    tensors (batch x seq x hidden)."""
    per_layer = 3 * shape["num_heads"] * seq_len ** 2 + 16 * seq_len * shape["hidden_dim"]
    if not training:
        per_layer = shape["num_heads"] * seq_len ** 2 + 4 * seq_len * shape["hidden_dim"]
    return 4 * int(batch) * shape["num_layers"] * per_layer


def available_memory() -> int | None:
    """Bytes the kernel says are available (`MemAvailable` in /proc/meminfo), or None off Linux."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(batch, seq_len, shape: dict | None, training: bool = True):
    """Refuse a batch whose activation estimate exceeds the memory available, naming the numbers."""
    if not shape or not batch or not seq_len or not shape.get("num_layers"):
        return
    need, have = activation_bytes(batch, seq_len, shape, training), available_memory()
    if have is not None and need > have:
        gib = 2 ** 30
        raise KbertInputError(
            f"--batch-size {batch} at --seq-len {seq_len} needs about {need / gib:.1f} GiB of activations "
            f"(batch {batch} x {shape['num_heads']} heads x {seq_len}^2 x {shape['num_layers']} layers, float32) "
            f"but {have / gib:.1f} GiB of memory is available; lower --batch-size or --seq-len")


def check_finetune(config: dict):
    """The fine-tuning config's values, before any data is read or model built."""
    for key in ("epochs", "batch_size", "limit", "eval_limit", "doc_stride", "max_answer_len"):
        check_range(key, config.get(key), low=1)
    check_range("learning_rate", config.get("learning_rate"), low=0, low_open=True)
    check_range("dropout", config.get("dropout"), low=0, high=0.99)
    check_range("patience", config.get("patience"), low=0)
    check_range("o_weight", config.get("o_weight"), low=0, high=1, low_open=True)
    shape = model_shape(config.get("model"))
    pair = bool(config.get("text_b_column"))
    minimum = {"qa": 8, "ner": 3}.get(config["task"], 5 if pair else 3)
    check_seq_len(int(config["seq_len"]), shape, minimum, f"--model {config.get('model')}")
    check_memory(int(config["batch_size"]), int(config["seq_len"]), shape)


def check_distill(config: dict):
    for key in ("limit", "eval_limit", "head_examples", "head_epochs"):
        check_range(key, config.get(key), low=1)
    for key in ("learning_rate", "temperature"):
        check_range(key, config.get(key), low=0, low_open=True)
    teacher = config.get("teacher")
    shape = model_shape(teacher)
    seq_len = config.get("seq_len")
    if seq_len is not None:
        check_seq_len(int(seq_len), shape, 3, f"--teacher {teacher}")
    # teacher and student both run each step: twice the teacher's activations bounds it from above
    check_memory(2 * int(config["batch_size"]), int(seq_len or 128), shape)


def check_pretrain(config: dict):
    for key in ("batch_size", "vocab_size", "warmup_steps"):
        check_range(key, config.get(key), low=0 if key == "warmup_steps" else 1)
    check_range("learning_rate", config.get("learning_rate"), low=0, low_open=True)
    shape = model_shape(config.get("model"))
    if shape:
        shape = {**shape, **{k: v for k, v in (config.get("overrides") or {}).items() if k in shape}}
    check_seq_len(int(config["seq_len"]), None, 8)
    check_memory(int(config["batch_size"]), int(config["seq_len"]), shape)
    check_pretraining_corpus(config.get("corpus"))


def check_pretraining_corpus(spec) -> None:
    """A local corpus must hold a document of two or more sentences (pretraining pairs sentences for
    NSP/SOP); found by reading only as far as the first such document. Named sets pass unread."""
    if not spec or spec == "bundled" or str(spec).startswith("tfds:"):
        return
    from kbert.data.corpus import open_corpus
    from kbert.data.sentences import split_sentences

    documents = sentences = 0
    for doc in open_corpus(spec):
        documents += 1
        found = len(split_sentences(doc))
        sentences += found
        if found >= 2:
            return
    raise KbertInputError(f"--corpus {spec}: {documents} document(s) with {sentences} sentence(s) in all, and none "
                          "with two sentences; pretraining needs documents of several sentences (it pairs them "
                          "for next-sentence / sentence-order prediction)")
