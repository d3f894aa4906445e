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


def one_line(e: BaseException) -> str:
    """The readable cause of `e` in one line.

    TensorFlow's runtime errors start with "Graph execution error:" and a node's Python stack; the
    cause ("indices[0] = 5 is not in [0, 2)", "OOM when allocating tensor ...") comes last, followed
    by the node name, which is kept in brackets:

        >>> class InvalidArgumentError(Exception): pass
        >>> one_line(InvalidArgumentError("Graph execution error:\\n\\nDetected at node GatherV2 defined at "
        ...     "(most recent call last):\\n  File \\"x.py\\", line 6, in f\\n\\nindices[0] = 5 is not in "
        ...     "[0, 2)\\n\\t [[{{node GatherV2}}]] [Op:__inference_f_8]"))
        'indices[0] = 5 is not in [0, 2) (TensorFlow InvalidArgumentError at node GatherV2)'
    """
    import re

    text = str(e).strip()
    if not text:
        return type(e).__name__
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines[0].startswith("Graph execution error") and "Detected at node" not in text:
        return lines[0]
    node = re.search(r"\[\[\{\{node ([^}]+)\}\}\]\]", text)
    causes = [line.strip() for line in lines[1:]
              if not line.startswith((" ", "\t")) and not line.startswith(("Detected at node", "Hint:", "Graph execution"))]
    cause = causes[-1] if causes else lines[0]
    cause = re.sub(r"\s*\[\[\{\{node [^}]+\}\}\]\].*$", "", cause).strip() or lines[0]
    where = f" at node {node.group(1)}" if node else ""
    return f"{cause} (TensorFlow {type(e).__name__}{where})"
