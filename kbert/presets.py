"""The model zoo's registry: preset name -> family and architecture config.

Configs use keras-hub's backbone argument names, so `kbert.models.backbone(name)` passes them
straight to `keras_hub.models.BertBackbone`, `DistilBertBackbone` or `AlbertBackbone`.
`reference_params` is the parameter count of the published checkpoint of that size (Google's
BERT / ALBERT releases, Hugging Face's `distilbert-base-uncased`), checked by the tests against
both our shape-based count and a built model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from kbert.errors import KbertInputError

BERT_VOCAB = 30522  # bert-base-uncased WordPiece vocabulary
ALBERT_VOCAB = 30000  # albert-*-v2 SentencePiece vocabulary


@dataclass(frozen=True)
class Preset:
    name: str
    family: str  # "bert" | "distilbert" | "albert"
    config: dict = field(default_factory=dict)
    description: str = ""
    reference_params: int | None = None

    @property
    def num_layers(self) -> int:
        return self.config["num_layers"]

    @property
    def hidden_dim(self) -> int:
        return self.config["hidden_dim"]


def _bert(name, layers, hidden, desc, ref=None):
    return Preset(
        name,
        "bert",
        dict(
            vocabulary_size=BERT_VOCAB,
            num_layers=layers,
            num_heads=hidden // 64,
            hidden_dim=hidden,
            intermediate_dim=4 * hidden,
            max_sequence_length=512,
            num_segments=2,
        ),
        desc,
        ref,
    )


def _albert(name, layers, hidden, heads, desc, ref=None):
    return Preset(
        name,
        "albert",
        dict(
            vocabulary_size=ALBERT_VOCAB,
            num_layers=layers,
            num_heads=heads,
            embedding_dim=128,
            hidden_dim=hidden,
            intermediate_dim=4 * hidden,
            num_groups=1,  # every layer shares one set of weights
            num_inner_repetitions=1,
            max_sequence_length=512,
            num_segments=2,
        ),
        desc,
        ref,
    )


_PRESETS = [
    # Turc et al. 2019, "Well-Read Students Learn Better": the compact BERT sizes.
    _bert("bert_tiny", 2, 128, "BERT L-2 H-128 (Turc et al. 2019)"),
    _bert("bert_mini", 4, 256, "BERT L-4 H-256 (Turc et al. 2019)"),
    _bert("bert_small", 4, 512, "BERT L-4 H-512 (Turc et al. 2019)"),
    _bert("bert_medium", 8, 512, "BERT L-8 H-512 (Turc et al. 2019)"),
    _bert("bert_base", 12, 768, "BERT-base (Devlin et al. 2019)", 109_482_240),
    _bert("bert_large", 24, 1024, "BERT-large (Devlin et al. 2019)", 335_141_888),
    # The real checkpoint available offline (sentence-transformers all-MiniLM-L6-v2).
    Preset(
        "minilm_l6",
        "bert",
        dict(
            vocabulary_size=BERT_VOCAB,
            num_layers=6,
            num_heads=12,
            hidden_dim=384,
            intermediate_dim=1536,
            max_sequence_length=512,
            num_segments=2,
        ),
        "MiniLM-L6-H384 (all-MiniLM-L6-v2 architecture)",
        22_713_216,
    ),
    Preset(
        "distilbert_base",
        "distilbert",
        dict(
            vocabulary_size=BERT_VOCAB,
            num_layers=6,
            num_heads=12,
            hidden_dim=768,
            intermediate_dim=3072,
            max_sequence_length=512,
        ),
        "DistilBERT-base: 6 layers, no token types, no pooler (Sanh et al. 2019)",
        66_362_880,
    ),
    Preset(
        "distilbert_tiny",
        "distilbert",
        dict(
            vocabulary_size=BERT_VOCAB,
            num_layers=2,
            num_heads=2,
            hidden_dim=128,
            intermediate_dim=512,
            max_sequence_length=512,
        ),
        "DistilBERT with bert_tiny's width, for tests and CPU experiments",
    ),
    _albert("albert_tiny", 4, 312, 12, "ALBERT L-4 H-312 E-128 (albert_tiny_zh size)"),
    _albert("albert_base", 12, 768, 12, "ALBERT-base (Lan et al. 2020)", 11_683_584),
    _albert("albert_large", 24, 1024, 16, "ALBERT-large (Lan et al. 2020)", 17_683_968),
    _albert("albert_xlarge", 24, 2048, 16, "ALBERT-xlarge (Lan et al. 2020)", 58_724_864),
    _albert("albert_xxlarge", 12, 4096, 64, "ALBERT-xxlarge (Lan et al. 2020)", 222_595_584),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}
FAMILIES = ("bert", "distilbert", "albert")


def get_preset(name: str) -> Preset:
    """Return the preset called `name`, or raise naming the closest ones."""
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, PRESETS, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KbertInputError(
        f"unknown preset {name!r}.{hint} Run `kbert presets` to list all {len(PRESETS)}."
    )


def _layer_params(hidden: int, intermediate: int) -> int:
    """One post-LN transformer block: Q, K, V, O projections, the MLP, two layer norms."""
    attention = 4 * (hidden * hidden + hidden)
    mlp = hidden * intermediate + intermediate + intermediate * hidden + hidden
    return attention + mlp + 2 * 2 * hidden


def count_params(family: str, config: dict) -> int:
    """Exact parameter count of a keras-hub backbone from its config alone (nothing allocated)."""
    h = config["hidden_dim"]
    positions = config.get("max_sequence_length", 512)
    segments = config.get("num_segments", 2)
    layer = _layer_params(h, config["intermediate_dim"])
    pooler = h * h + h
    if family == "bert":
        embeddings = (config["vocabulary_size"] + positions + segments) * h + 2 * h
        return embeddings + config["num_layers"] * layer + pooler
    if family == "distilbert":  # no token types, no pooler
        embeddings = (config["vocabulary_size"] + positions) * h + 2 * h
        return embeddings + config["num_layers"] * layer
    if family == "albert":  # factorized embeddings (E) projected to H; one layer per group
        e = config["embedding_dim"]
        embeddings = (config["vocabulary_size"] + positions + segments) * e + 2 * e + e * h + h
        groups = config.get("num_groups", 1) * config.get("num_inner_repetitions", 1)
        return embeddings + groups * layer + pooler
    raise KbertInputError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")


def list_presets(family: str | None = None) -> list[Preset]:
    return [p for p in _PRESETS if family is None or p.family == family]
