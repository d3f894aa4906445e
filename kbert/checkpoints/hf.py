"""Load Hugging Face-format checkpoint folders into kbert encoders, with the right tokenizer.

A folder holds `config.json`, weights (`model.safetensors`, a sharded `model.safetensors.index.json`,
or `pytorch_model.bin`) and `vocab.txt` (BERT, DistilBERT) or `spiece.model` (ALBERT):

    >>> import kbert
    >>> ckpt = load_hf(kbert.assets.minilm_dir())   # the real all-MiniLM-L6-v2 folder
    >>> ckpt.family, ckpt.backbone.count_params(), ckpt.tokenizer.vocabulary_size()
    ('bert', 22713216, 30522)

`path` may also name a published checkpoint on the Hugging Face Hub: `"bert-base-uncased"`,
`"albert-base-v2"`, `"sentence-transformers/all-MiniLM-L6-v2"` or the same with an `hf://` prefix
(optionally `@revision`). `huggingface_hub.snapshot_download` fetches the files kbert reads (config,
safetensors weights, tokenizer files) into the usual Hub cache (`$HF_HOME/hub`), or, with
`HF_HUB_OFFLINE=1`, takes them from that cache; a name neither cached nor reachable is a one-line
`KbertInputError`.

Weight porting reuses keras-hub's converters (`kbert._compat.keras_hub_convert`); kbert
adds what they lack: the exact GELU Hugging Face BERT uses (parity 4e-6 instead of 3e-3),
checkpoints saved without the `bert.`/`albert.` prefix, `pytorch_model.bin` read with
`weights_only=True`, and errors that name the file and the tensor at fault.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

import numpy as np

from kbert import tokenizers
from kbert._compat.keras_hub_convert import converter
from kbert.errors import KbertInputError

CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_BIN = "pytorch_model.bin"
HUB_PREFIX = "hf://"
# What kbert reads from a Hub repository (never the TF/Flax/ONNX copies many repos also hold).
HUB_FILES = [CONFIG, SAFETENSORS, "model-*.safetensors", SAFETENSORS_INDEX, "vocab.txt", "spiece.model",
             "tokenizer_config.json", "special_tokens_map.json"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?(@[A-Za-z0-9_./-]+)?$")

# Keys of Hugging Face configs that do not change the encoder's forward pass.
IGNORED_KEYS = {
    "_name_or_path", "architectures", "transformers_version", "model_type", "gradient_checkpointing",
    "use_cache", "torch_dtype", "dtype", "pad_token_id", "bos_token_id", "eos_token_id", "initializer_range",
    "classifier_dropout", "id2label", "label2id", "problem_type", "finetuning_task", "output_past",
    "output_hidden_states", "output_attentions", "return_dict", "tie_weights_", "sinusoidal_pos_embds",
    "qa_dropout", "seq_classif_dropout", "tie_word_embeddings", "directionality", "pooler_fc_size",
    "pooler_num_attention_heads", "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type",
    "chunk_size_feed_forward", "is_encoder_decoder", "add_cross_attention", "tokenizer_class", "prefix",
    "attn_implementation", "_attn_implementation_autoset", "max_length", "sep_token_id", "cls_token_id",
    "classifier_dropout_prob", "down_scale_factor", "gap_size", "net_structure_type", "num_memory_blocks",
    "kbert_export",  # what kbert.export.hf records about the export
}
# Hugging Face config key -> kbert / keras-hub backbone config key, per family.
HF_CONFIG_KEYS = {
    "bert": dict(vocab_size="vocabulary_size", num_hidden_layers="num_layers", num_attention_heads="num_heads",
                 hidden_size="hidden_dim", intermediate_size="intermediate_dim",
                 max_position_embeddings="max_sequence_length", type_vocab_size="num_segments",
                 hidden_act="hidden_activation", hidden_dropout_prob="dropout"),
    "distilbert": dict(vocab_size="vocabulary_size", n_layers="num_layers", n_heads="num_heads", dim="hidden_dim",
                       hidden_dim="intermediate_dim", max_position_embeddings="max_sequence_length", dropout="dropout"),
    "albert": dict(vocab_size="vocabulary_size", num_hidden_layers="num_layers", num_attention_heads="num_heads",
                   embedding_size="embedding_dim", hidden_size="hidden_dim", intermediate_size="intermediate_dim",
                   num_hidden_groups="num_groups", inner_group_num="num_inner_repetitions",
                   max_position_embeddings="max_sequence_length", type_vocab_size="num_segments",
                   hidden_act="hidden_activation", hidden_dropout_prob="dropout"),
}
# Keys that change the architecture: the values kbert can build.
SUPPORTED_VALUES = {
    "position_embedding_type": {"absolute"},
    "is_decoder": {False},
    "layer_norm_eps": {1e-12},
    "sinusoidal_pos_embds": {False},
}


@dataclass
class Checkpoint:
    backbone: object
    tokenizer: object
    family: str
    config: dict  # kbert / keras-hub backbone config
    path: str
    hf_config: dict = field(default_factory=dict)


def _load_json(path: str) -> dict:
    if not os.path.isfile(path):
        raise KbertInputError(f"missing {os.path.basename(path)} in {os.path.dirname(path) or '.'}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KbertInputError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise KbertInputError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def _require(hf: dict, keys, path):
    missing = [k for k in keys if k not in hf]
    if missing:
        raise KbertInputError(f"{path}: config lacks {missing}")


def convert_config(hf: dict, path: str = CONFIG, strict: bool = True) -> tuple[str, dict]:
    """Map a Hugging Face config to (family, kbert backbone config); reject what kbert cannot build."""
    family = hf.get("model_type")
    if family not in ("bert", "distilbert", "albert"):
        raise KbertInputError(
            f"{path}: model_type {family!r} is not one of bert, distilbert, albert"
        )
    keys = HF_CONFIG_KEYS[family]
    if family == "distilbert":
        extra_ok = {"attention_dropout", "activation"}
        if hf.get("activation", "gelu") != "gelu":
            raise KbertInputError(f"{path}: DistilBERT activation {hf['activation']!r} is not supported (gelu only)")
    else:
        extra_ok = {"attention_probs_dropout_prob"}
    required = [k for k in keys if k not in ("hidden_dropout_prob", "dropout", "hidden_act", "type_vocab_size",
                                             "num_hidden_groups", "inner_group_num", "max_position_embeddings")]
    _require(hf, required, path)
    for k, allowed in SUPPORTED_VALUES.items():
        if k in hf and hf[k] not in allowed and not (k == "layer_norm_eps" and abs(hf[k] - 1e-12) < 1e-15):
            raise KbertInputError(f"{path}: {k}={hf[k]!r} is not supported (kbert builds {sorted(allowed)})")
    unknown = sorted(set(hf) - set(keys) - extra_ok - IGNORED_KEYS - set(SUPPORTED_VALUES))
    if unknown and strict:
        raise KbertInputError(
            f"{path}: config keys not understood: {unknown}. If they do not change the model, "
            "load with strict_config=False (CLI: --no-strict-config)"
        )
    config = {ours: hf[theirs] for theirs, ours in keys.items() if theirs in hf}
    for theirs, ours in keys.items():
        if theirs not in hf:
            continue
        value = hf[theirs]
        if ours == "hidden_activation":
            ok = isinstance(value, str)
        elif ours == "dropout":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        if not ok:
            raise KbertInputError(f"{path}: {theirs}={value!r} is not a valid value for {ours}")
    return family, config


class _ArrayLoader:
    """The loader interface keras-hub's converters call (`get_tensor`, `port_weight`), over a
    name -> array mapping, accepting keys with or without the family prefix and checking shapes."""

    PREFIXES = ("bert.", "albert.", "distilbert.", "model.", "encoder_model.")

    def __init__(self, tensors, source: str):
        self.tensors = tensors  # name -> callable returning np.ndarray (lazy)
        self.source = source
        self.by_bare = {self._bare(k): k for k in tensors}
        self.used = set()

    @classmethod
    def _bare(cls, key: str) -> str:
        for p in cls.PREFIXES:
            if key.startswith(p):
                return key[len(p):]
        return key

    def _key(self, key: str) -> str:
        if key in self.tensors:
            return key
        bare = self._bare(key)
        if bare in self.by_bare:
            return self.by_bare[bare]
        # sentence-transformers style LayerNorm names (weight/bias) versus TF-ported (gamma/beta)
        alt = bare.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if alt in self.by_bare:
            return self.by_bare[alt]
        raise KbertInputError(f"{self.source}: tensor {key!r} not found (the file holds {len(self.tensors)} tensors)")

    def get_tensor(self, key: str) -> np.ndarray:
        k = self._key(key)
        self.used.add(k)
        try:
            return np.asarray(self.tensors[k]())
        except Exception as e:  # truncated data surfaces here
            raise KbertInputError(f"{self.source}: cannot read tensor {k!r}: {e}") from e

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        value = self.get_tensor(hf_weight_key)
        if hook_fn:
            try:
                value = hook_fn(value, list(keras_variable.shape))
            except ValueError as e:
                raise KbertInputError(
                    f"{self.source}: tensor {hf_weight_key!r} has shape {value.shape}, which does not fit "
                    f"{keras_variable.path} {tuple(keras_variable.shape)}"
                ) from e
        if tuple(value.shape) != tuple(keras_variable.shape):
            raise KbertInputError(
                f"{self.source}: tensor {hf_weight_key!r} has shape {tuple(value.shape)}, expected "
                f"{tuple(keras_variable.shape)} for {keras_variable.path}"
            )
        if not np.all(np.isfinite(value)):
            raise KbertInputError(f"{self.source}: tensor {hf_weight_key!r} holds NaN or Inf values")
        keras_variable.assign(value.astype(keras_variable.dtype))


def _safetensors_file(path: str) -> dict:
    from safetensors import SafetensorError, safe_open

    size = os.path.getsize(path)
    if size < 8:
        raise KbertInputError(f"{path} is truncated ({size} bytes)")
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        if header_len > size - 8:
            raise KbertInputError(f"{path} is corrupt or truncated: its header claims {header_len} bytes, "
                                  f"the file has {size - 8} after the length field")
        try:
            header = json.loads(f.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise KbertInputError(f"{path} is not a safetensors file: bad header ({e})") from e
    entries = [v for k, v in header.items() if k != "__metadata__"] if isinstance(header, dict) else None
    if entries is None or not all(isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
                                  and len(v["data_offsets"]) == 2 for v in entries):
        raise KbertInputError(f"{path} is not a safetensors file: its header is not a JSON object of tensors "
                              "with data_offsets")
    end = max((int(v["data_offsets"][1]) for v in entries), default=0)
    if 8 + header_len + end > size:
        raise KbertInputError(f"{path} is truncated: tensors need {8 + header_len + end} bytes, "
                              f"the file has {size}")
    try:
        handle = safe_open(path, framework="np")
    except SafetensorError as e:
        raise KbertInputError(f"{path} is not a valid safetensors file: {e}") from e
    return {k: (lambda k=k: handle.get_tensor(k)) for k in handle.keys()}


def read_weights(folder: str, allow_pickle: bool = False) -> tuple[dict, str]:
    """name -> lazy array for the weights in `folder`; safetensors first.

    `pytorch_model.bin` is read with `torch.load(weights_only=True)` (no arbitrary code runs); with
    `allow_pickle=True` only does kbert fall back to full unpickling, for files you trust.
    """
    st = os.path.join(folder, SAFETENSORS)
    index = os.path.join(folder, SAFETENSORS_INDEX)
    if os.path.isfile(st):
        return _safetensors_file(st), st
    if os.path.isfile(index):
        weight_map = _load_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise KbertInputError(f"{index} has no weight_map")
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = os.path.join(folder, shard)
            if not os.path.isfile(shard_path):
                raise KbertInputError(f"{index} names shard {shard}, which is missing")
            tensors.update(_safetensors_file(shard_path))
        return tensors, index
    binary = os.path.join(folder, TORCH_BIN)
    if os.path.isfile(binary):
        try:
            import torch
        except ImportError as e:
            raise KbertInputError(f"{binary} needs torch to read (pip install 'kbert[parity]'), "
                                  "or convert it to model.safetensors") from e
        try:
            state = torch.load(binary, map_location="cpu", weights_only=not allow_pickle)
        except Exception as e:
            raise KbertInputError(f"{binary} could not be read safely ({type(e).__name__}: {str(e)[:200]}); "
                                  "kbert loads torch files with weights_only=True") from e
        return {k: (lambda v=v: v.float().numpy()) for k, v in state.items()}, binary
    raise KbertInputError(f"no weights in {folder}: expected {SAFETENSORS}, {SAFETENSORS_INDEX} or {TORCH_BIN}")


def is_hub_name(name) -> bool:
    """Whether `name` names a Hub repository rather than a local folder: an `hf://` prefix, or a
    repo id (`owner/name` or a legacy bare name such as `bert-base-uncased`) that is not a path here."""
    name = os.fspath(name)
    if name.startswith(HUB_PREFIX):
        return True
    return not os.path.exists(name) and bool(_REPO_ID.match(name)) and not name.startswith((".", "/"))


def names_hub_repo(name) -> bool:
    """Whether a model name given where presets are also accepted (`from_preset`, `--model`) means a Hub
    repository: an `hf://` prefix, or a repo id with an owner ("owner/name") or a dash ("bert-base-uncased")
    that is not a local path. Preset names use underscores, so a mistyped preset still gets its hint."""
    name = os.fspath(name)
    return name.startswith(HUB_PREFIX) or (("/" in name or "-" in name) and is_hub_name(name))


def hub_snapshot(name: str) -> str:
    """The local folder of Hub checkpoint `name` (`[hf://]repo_id[@revision]`), downloaded once into the
    Hugging Face cache, or found there when offline (`HF_HUB_OFFLINE=1`)."""
    repo = name[len(HUB_PREFIX):] if name.startswith(HUB_PREFIX) else name
    repo, _, revision = repo.partition("@")
    if not _REPO_ID.match(repo):
        raise KbertInputError(f"{name!r} is not a Hugging Face repo id (expected owner/name or hf://owner/name)")
    try:
        import huggingface_hub
        from huggingface_hub import constants, errors
    except ImportError as e:
        raise KbertInputError(f"loading {name!r} from the Hugging Face Hub needs huggingface_hub "
                              "(pip install 'keras-kbert[hub]')") from e
    try:
        folder = huggingface_hub.snapshot_download(repo, revision=revision or None, allow_patterns=HUB_FILES)
    except errors.LocalEntryNotFoundError as e:
        where = "downloads are off (HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else "the Hub is not reachable"
        raise KbertInputError(f"Hugging Face checkpoint {repo!r} is not in the cache ({constants.HF_HUB_CACHE}) "
                              f"and {where}: download it once online, or pass a local folder") from e
    except errors.RepositoryNotFoundError as e:
        raise KbertInputError(f"no Hugging Face repository {repo!r} (or it is private: log in with `hf auth login`)") from e
    except errors.RevisionNotFoundError as e:
        raise KbertInputError(f"Hugging Face repository {repo!r} has no revision {revision!r}") from e
    except errors.HfHubHTTPError as e:
        raise KbertInputError(f"could not fetch {repo!r} from the Hugging Face Hub: {str(e).splitlines()[0]}") from e
    if not os.path.isfile(os.path.join(folder, CONFIG)):
        raise KbertInputError(f"Hugging Face repository {repo!r} has no {CONFIG}: not a transformers checkpoint")
    return folder


def resolve(path) -> str:
    """A local checkpoint folder for `path`: the folder itself, or the Hub snapshot it names."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return path
    if is_hub_name(path):
        return hub_snapshot(path)
    raise KbertInputError(f"checkpoint folder not found: {path}")


def load_hf(path: str, dtype=None, strict_config: bool = True, allow_pickle: bool = False,
            with_tokenizer: bool = True) -> Checkpoint:
    """Build the encoder described by `path/config.json` and load its weights and tokenizer.

    `path` is a local folder or a Hub name (`"bert-base-uncased"`, `"hf://owner/name[@revision]"`)."""
    from kbert.models.build import build_backbone

    path = resolve(path)
    hf = _load_json(os.path.join(path, CONFIG))
    family, config = convert_config(hf, os.path.join(path, CONFIG), strict=strict_config)
    tensors, source = read_weights(path, allow_pickle=allow_pickle)
    tokenizer = tokenizers.from_folder(path, family) if with_tokenizer else None
    if tokenizer is not None and tokenizer.vocabulary_size() != config["vocabulary_size"]:
        raise KbertInputError(
            f"{path}: the tokenizer has {tokenizer.vocabulary_size()} tokens but config.json says "
            f"vocab_size={config['vocabulary_size']} (embedding rows); they must be equal"
        )
    model = build_backbone(family, {**config, "dropout": config.get("dropout", 0.1)}, dtype=dtype)
    loader = _ArrayLoader(tensors, source)
    converter(family).convert_weights(model, loader, hf)
    return Checkpoint(model, tokenizer, family, config, path, hf)


def describe(path: str) -> dict:
    """What a checkpoint folder holds, without building the model (for `kbert info`)."""
    from kbert.presets import count_params

    path = resolve(path)
    hf = _load_json(os.path.join(path, CONFIG))
    family, config = convert_config(hf, os.path.join(path, CONFIG), strict=False)
    tensors, source = read_weights(path)
    files = sorted(os.listdir(path))
    tokenizer_file = tokenizers.SPM_FILE if family == "albert" else tokenizers.VOCAB_FILE
    return {
        "path": path,
        "family": family,
        "config": config,
        "params": count_params(family, config),
        "weights_file": os.path.basename(source),
        "tensors": len(tensors),
        "tokenizer_file": tokenizer_file if tokenizer_file in files else None,
        "files": files,
    }
