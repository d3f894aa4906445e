"""Errors kbert raises on purpose.

`KbertInputError` means the user gave something kbert cannot use (a bad preset name, a
corrupt checkpoint, a malformed data file). The CLI turns it into one readable line and exit
code 2; any other exception is a failure (exit code 1).
"""


class KbertInputError(ValueError):
    """Bad input: the message names the file, field or value and what is wrong with it."""


def require_extra(module: str, extra: str, pip_name: str | None = None):
    """Import an optional dependency or raise one line saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        hint = pip_name or f"kbert[{extra}]"
        raise ImportError(f"{module} is needed for this; install it with: pip install '{hint}'") from e
