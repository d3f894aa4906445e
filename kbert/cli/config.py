"""Recipe configs: defaults in the pipeline module, a JSON file (`--config`), then command-line
flags, later ones winning. Keys a recipe does not know are an error naming them."""

import json


def merge(defaults: dict, args) -> dict:
    """`defaults` updated by the JSON file `args.config` (if any), then by every flag in `args`
    whose name is a config key and whose value is not None."""
    from kbert.errors import KbertInputError

    config = dict(defaults)
    path = getattr(args, "config", None)
    if path:
        try:
            with open(path) as f:
                user = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise KbertInputError(f"cannot read config {path}: {e}") from e
        if not isinstance(user, dict):
            raise KbertInputError(f"config {path} must hold a JSON object")
        unknown = sorted(set(user) - set(defaults) - {"description"})
        if unknown:
            raise KbertInputError(f"config {path}: unknown keys {unknown}; known: {sorted(defaults)}")
        config.update({k: v for k, v in user.items() if k != "description"})
    for key in defaults:
        value = getattr(args, key, None)
        if value is not None:
            config[key] = value
    return config
