"""Where an encoder comes from: a preset name, `minilm`, a Hugging Face folder, or a saved kbert model.

    >>> from kbert.tasks.sources import resolve
    >>> src = resolve("bert_tiny")                     # doctest: +SKIP
    >>> src.family, src.description                    # doctest: +SKIP
    ('bert', 'preset bert_tiny (random weights)')

`resolve(name)` returns a `Source`: the backbone, its tokenizer and family, a one-line description,
and, for a saved kbert model, the loaded model and its settings (`meta`). Every task model's
`from_preset` and the fine-tuning recipe go through it.

- a preset name (`kbert presets`): random weights; BERT/DistilBERT presets use the uncased BERT
  vocabulary of the real MiniLM checkpoint, ALBERT presets need `tokenizer_dir` (a folder with
  `spiece.model`);
- `minilm`: the real all-MiniLM-L6-v2 (Hugging Face folder in kbert's asset cache);
- a Hugging Face checkpoint folder (`config.json` + weights + vocabulary), or a Hub name
  (`"bert-base-uncased"`, `"hf://owner/name"`; `kbert.checkpoints.hf.names_hub_repo`);
- a `.keras` file saved by a kbert task model (`TextClassifier.save("clf.keras")`): the model with
  its preprocessor, labels and settings;
- a kbert model directory (`model.keras` + `kbert.json`, what `kbert finetune|distill|pretrain`
  write).

Saved files load with Keras' `safe_mode=True`. A saved file's classes must be registered with
Keras: `import kbert` and use `kbert.TextClassifier` etc. (or `kbert.tasks.registry`), which
imports every task module.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field

from kbert.errors import KbertInputError
from kbert.output_dir import META_FILE

MODEL_FILE = "model.keras"


@dataclass
class Source:
    backbone: object
    tokenizer: object
    family: str
    description: str
    model: object = None              # the loaded kbert model, for saved files and model directories
    meta: dict = field(default_factory=dict)  # its settings (task, labels, seq_len, ...)


def find_backbone(model):
    """The keras-hub backbone inside a model (a task model's `.backbone`, or the first backbone layer)."""
    import keras_hub

    if isinstance(model, keras_hub.models.Backbone):
        return model
    found = getattr(model, "backbone", None)
    if isinstance(found, keras_hub.models.Backbone):
        return found
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    return None


def saved_config(path) -> dict:
    """The top-level `{"class_name", "config", ...}` record of a `.keras` file, read without Keras."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise KbertInputError(f"{path} is not a readable .keras file ({type(e).__name__}: {e})") from e


def is_saved_model_file(path) -> bool:
    return os.path.isfile(path) and os.fspath(path).endswith(".keras")


def is_model_dir(path) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, META_FILE))


def load_keras_file(path, compile: bool = True):
    """`keras.saving.load_model(path, safe_mode=True)` with kbert's classes and a readable error."""
    import keras

    import kbert.models  # noqa: F401  (registers kbert's backbones)
    from kbert._compat.sentencepiece import make_durable

    path = os.fspath(path)
    try:
        record = saved_config(path)
    except KbertInputError:
        record = {}  # a damaged file: Keras' own error below names what is wrong
    registered = record.get("registered_name") or record.get("class_name")
    make_durable()  # a SentencePiece tokenizer inside the model survives keras.utils.set_random_seed
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:
        hint = ""
        if registered and keras.saving.get_registered_object(registered) is None and "kbert>" in str(registered):
            hint = f"; it holds a {registered.split('>')[-1]}: `import kbert` registers kbert's task classes"
        raise KbertInputError(f"{path} could not be loaded ({type(e).__name__}: {str(e)[:300]}){hint}") from e


def read_model_dir_meta(path) -> dict:
    meta_path = os.path.join(path, META_FILE)
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KbertInputError(f"{meta_path} is not valid JSON: {e}") from e
    if not isinstance(meta, dict):
        raise KbertInputError(f"{meta_path} is not a JSON object")
    return meta


def resolve(name, tokenizer_dir=None, seq_len: int = 128, compile: bool = True) -> Source:
    """The encoder (and saved model, if any) that `name` points to; see the module docstring."""
    from kbert import assets, models, tokenizers
    from kbert.presets import PRESETS, get_preset

    name = os.fspath(name)
    if name == "minilm":
        name = assets.minilm_dir()
    if is_saved_model_file(name):
        model = load_keras_file(name, compile=compile)
        return _from_model(model, name, tokenizer_dir, meta=_task_meta(model))
    if is_model_dir(name):
        meta = read_model_dir_meta(name)
        model_path = os.path.join(name, MODEL_FILE)
        if not os.path.isfile(model_path):
            raise KbertInputError(f"{name}: {MODEL_FILE} is missing")
        model = load_keras_file(model_path, compile=compile)
        meta = {**meta, **_task_meta(model)}
        tok = None
        if meta.get("tokenizer_files") and not tokenizer_dir and getattr(model, "preprocessor", None) is None:
            tok = tokenizers.from_folder(name, meta.get("family") or "bert")
        return _from_model(model, name, tokenizer_dir, meta=meta, tokenizer=tok)
    from kbert.checkpoints.hf import load_hf, names_hub_repo

    if os.path.isdir(name) or (name not in PRESETS and not name.endswith(".keras") and names_hub_repo(name)):
        ck = load_hf(name)  # a Hugging Face folder, or a Hub name (bert-base-uncased, hf://owner/name)
        tok = tokenizers.from_folder(tokenizer_dir, ck.family) if tokenizer_dir else ck.tokenizer
        return Source(ck.backbone, tok, ck.family, name)
    if name not in PRESETS and (os.path.sep in name or name.endswith(".keras")):
        raise KbertInputError(f"{name}: no such file or folder")
    preset = get_preset(name)
    if tokenizer_dir:
        tok = tokenizers.from_folder(tokenizer_dir, preset.family)
    elif preset.family == "albert":
        raise KbertInputError(f"{name} is an ALBERT preset: pass a tokenizer folder with its spiece.model")
    else:
        tok = tokenizers.wordpiece(os.path.join(assets.minilm_dir(), "vocab.txt"), family=preset.family)
    max_len = max(int(seq_len), preset.config.get("max_sequence_length", 512))
    enc = models.backbone(name, vocabulary_size=int(tok.vocabulary_size()), max_sequence_length=max_len)
    return Source(enc, tok, preset.family, f"preset {name} (random weights)")


def _task_meta(model) -> dict:
    meta = getattr(model, "export_meta", None)
    return meta() if callable(meta) else {}


def _from_model(model, path, tokenizer_dir, meta, tokenizer=None) -> Source:
    from kbert import models, tokenizers

    enc = find_backbone(model)
    if enc is None:
        raise KbertInputError(f"{path}: no encoder found in the model")
    family = models.family_of(enc)
    pre = getattr(model, "preprocessor", None)
    tok = tokenizer or (pre.tokenizer if pre is not None else None)
    if tokenizer_dir:
        tok = tokenizers.from_folder(tokenizer_dir, family)
    return Source(enc, tok, family, path, model=model, meta=dict(meta))
