"""The model zoo: exact parameter counts (from shapes, from built models, from the papers)."""

import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.presets import PRESETS, count_params, get_preset

REFERENCE = {
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
    "distilbert_base": 66_362_880,
    "albert_base": 11_683_584,
    "albert_large": 17_683_968,
    "albert_xlarge": 58_724_864,
    "albert_xxlarge": 222_595_584,
    "minilm_l6": 22_713_216,
}


@pytest.mark.parametrize("name,expected", sorted(REFERENCE.items()))
def test_shape_count_matches_published_checkpoints(name, expected):
    assert kbert.models.param_count(name) == expected
    assert PRESETS[name].reference_params == expected


@pytest.mark.parametrize(
    "name", ["bert_tiny", "bert_mini", "distilbert_tiny", "albert_tiny", "bert_base", "distilbert_base", "albert_base"]
)
def test_built_model_has_the_counted_parameters(name):
    model = kbert.models.backbone(name)
    assert model.count_params() == kbert.models.param_count(name)


def test_albert_shares_layers_so_depth_adds_no_parameters():
    p = get_preset("albert_base")
    shallow = count_params("albert", {**p.config, "num_layers": 2})
    assert shallow == count_params("albert", p.config)
    model = kbert.models.backbone("albert_tiny", num_layers=8)
    assert model.count_params() == kbert.models.param_count("albert_tiny")


def test_distilbert_has_no_token_types_and_no_pooler():
    model = kbert.models.backbone("distilbert_tiny")
    names = {w.path for w in model.weights}
    assert not any("segment" in n or "token_type" in n for n in names)
    assert not any("pool" in n for n in names)
    assert "segment_ids" not in [t.name.split(":")[0] for t in model.inputs]


def test_turc_sizes():
    sizes = {n: (PRESETS[n].num_layers, PRESETS[n].hidden_dim) for n in ("bert_tiny", "bert_mini", "bert_small", "bert_medium")}
    assert sizes == {"bert_tiny": (2, 128), "bert_mini": (4, 256), "bert_small": (4, 512), "bert_medium": (8, 512)}


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(KbertInputError, match="unknown preset 'bert_bsae'.*'bert_base'"):
        kbert.models.backbone("bert_bsae")


def test_unknown_config_key_is_named():
    with pytest.raises(KbertInputError, match="num_layerz"):
        kbert.models.backbone("bert_tiny", num_layerz=3)


def test_backbone_runs_for_every_family():
    for name in ("bert_tiny", "distilbert_tiny", "albert_tiny"):
        model = kbert.models.backbone(name)
        out = kbert.models.sequence_output(model(kbert.models.dummy_inputs(model, 2, 12)))
        assert tuple(out.shape) == (2, 12, model.hidden_dim)
        assert kbert.models.family_of(model) == PRESETS[name].family
