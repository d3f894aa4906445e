"""Building a backbone of a family from a keras-hub-style config dict (presets, checkpoint loaders and
student initialisation all build through here)."""

from __future__ import annotations

import kbert.models.albert as albert
import kbert.models.bert as bert
import kbert.models.distilbert as distilbert
from kbert.errors import KbertInputError
from kbert.presets import FAMILIES

FAMILY_MODULES = {"bert": bert, "distilbert": distilbert, "albert": albert}


def build_backbone(family: str, config: dict, dtype=None):
    """Build a backbone of `family` from a keras-hub-style config dict."""
    if family not in FAMILY_MODULES:
        raise KbertInputError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    module = FAMILY_MODULES[family]
    unknown = set(config) - set(module.CONFIG_KEYS)
    if unknown:
        raise KbertInputError(
            f"config keys not understood for {family}: {sorted(unknown)}; "
            f"known keys: {', '.join(module.CONFIG_KEYS)}"
        )
    return module.build(config, dtype=dtype)
