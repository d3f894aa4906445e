"""keras-hub's Hugging Face checkpoint converters (`keras_hub.src.utils.transformers.convert_*`).

kbert loads Hugging Face folders with them (`kbert.checkpoints.hf`) and runs them backwards to export
(`kbert.export.hf`): each module's `convert_weights(backbone, loader, hf_config)` calls
`loader.port_weight(keras_variable, hf_weight_key, hook_fn)` once per variable.
"""

from __future__ import annotations

from kbert._compat import check, require

PACKAGE = "keras-hub"

TOUCH = "Hugging Face weight conversion (keras_hub.src.utils.transformers.convert_*)"


def converter(family: str):
    """The converter module of `family` ("bert", "distilbert", "albert"), with `convert_weights`."""
    check(PACKAGE, TOUCH)
    from keras_hub.src.utils.transformers import convert_albert, convert_bert, convert_distilbert

    module = {"bert": convert_bert, "distilbert": convert_distilbert, "albert": convert_albert}[family]
    require(module, "convert_weights", PACKAGE, TOUCH)
    return module
