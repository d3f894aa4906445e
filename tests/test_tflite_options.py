"""export()'s settings in two groups (ConvertOptions, GateOptions); plain keywords still work."""

import inspect

import pytest

from kbert.export import tflite
from kbert.export.tflite_options import ConvertOptions, GateOptions, split_options


def test_keywords_sort_into_the_two_groups_without_touching_the_given_objects():
    given = ConvertOptions(mode="float16", runtime="litert")
    conversion, gate = split_options(given, None, {"seq_len": 32, "heldout": ["a"], "force": True})
    assert (conversion.mode, conversion.runtime, conversion.seq_len) == ("float16", "litert", 32)
    assert gate.heldout == ["a"] and gate.force and gate.threshold == 1.0
    assert given.seq_len is None  # copied, not changed
    assert split_options("dynamic-int8", GateOptions(threshold=0.5), {})[0].mode == "dynamic-int8"
    with pytest.raises(TypeError, match="unexpected keyword argument 'heldout_label'"):
        split_options(None, None, {"heldout_label": [1]})


def test_export_takes_the_groups_and_few_keywords():
    params = inspect.signature(tflite.export).parameters
    named = [p for p in params.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    assert [p.name for p in named][:4] == ["model", "out", "conversion", "gate"] and len(named) <= 11  # was 24
    with pytest.raises(TypeError, match="unexpected keyword argument 'mod'"):
        tflite.export("/nonexistent", "/tmp/x.tflite", mod="float16")
