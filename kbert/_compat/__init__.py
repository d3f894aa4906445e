"""Every touch of a private TensorFlow / Keras / keras-hub / tf-text API lives in this package.

kbert needs a few things those libraries do not expose publicly (a graph runner, a masked-softmax
constant, the SentencePiece resource, the TFLite converter's per-channel switch, ...). Each touch is an
explicit function or context manager in one module here, named after what it reaches into, that

- checks the installed version against the range it was written for (`check`), so an upgrade that
  moves the private piece fails with one clear line naming the package, its version and the touch,
  instead of an AttributeError deep inside training or export;
- changes nothing at import time: callers apply it where they need it.

Outside this package, kbert uses public APIs only (tests/test_compat.py checks the source).
"""

from __future__ import annotations

import importlib.metadata

# The versions each library's private pieces were checked against: [first, last] by (major, minor).
# Widen a range only after running the test of every touch (tests/test_compat.py) on the new version.
TESTED = {
    "keras": ((3, 10), (3, 15)),
    "keras-hub": ((0, 21), (0, 32)),
    "tensorflow": ((2, 18), (2, 21)),
    "tensorflow-text": ((2, 18), (2, 21)),
    "ai-edge-litert": ((2, 0), (2, 3)),
}


class CompatError(RuntimeError):
    """A private API kbert relies on is missing or the installed version was never checked."""


def version(package: str) -> tuple[int, int]:
    try:
        text = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError as e:
        raise CompatError(f"{package} is not installed") from e
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in text.split(".")[:2]]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def check(package: str, touch: str, since: tuple[int, int] | None = None) -> None:
    """Raise `CompatError` if the installed `package` is outside the range `touch` was written for: TESTED's,
    or from `since` (a touch first checked on a later version than the package's other touches) to its end."""
    first, last = TESTED[package]
    first = max(first, since) if since else first
    have = version(package)
    if not first <= have <= last:
        raise CompatError(
            f"{touch} relies on a private {package} API checked on {package} "
            f"{first[0]}.{first[1]}-{last[0]}.{last[1]}; installed {package} {have[0]}.{have[1]} is not "
            "supported by this kbert version (install a version in that range)"
        )


def require(obj, attribute: str, package: str, touch: str):
    """`getattr(obj, attribute)`, or a `CompatError` naming the touch if this version lacks it."""
    check(package, touch)
    try:
        return getattr(obj, attribute)
    except AttributeError as e:
        raise CompatError(
            f"{touch}: {package} {'.'.join(map(str, version(package)))} has no {attribute!r}; "
            "this kbert version does not support it"
        ) from e
