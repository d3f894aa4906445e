"""What every recipe config shares: built from a JSON config file or CLI flags with unknown keys named,
written back as a plain dict. Each recipe's `@dataclass` config subclasses `RecipeConfig` and defines
`checked()` (raise `KbertInputError` on a bad value, return the config)."""

from __future__ import annotations

import dataclasses

from kbert.errors import KbertInputError


class RecipeConfig:
    @classmethod
    def from_dict(cls, values: dict, source: str = "config"):
        """A checked config from a dict (unknown keys are an error naming them; "description" is a comment)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known - {"description"})
        if unknown:
            raise KbertInputError(f"{source}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in values.items() if k in known}).checked()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def checked(self):
        return self
