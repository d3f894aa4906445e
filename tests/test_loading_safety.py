"""Loading safety: no kbert code path unpickles untrusted files or turns Keras' safe_mode off by default.

Static (AST) checks over kbert/: every `torch.load` passes `weights_only` (not False),
`np.load` never passes `allow_pickle=True`, `load_model` never passes `safe_mode=False`, no
`pickle`/`dill`/`joblib`/`marshal`/`shelve` loads and no `yaml.load` without a safe loader, and every
`allow_pickle` parameter defaults to False. The behavioural side (a malicious pytorch_model.bin is
refused) is in tests/test_checkpoints.py::test_pickled_torch_file_is_not_unpickled.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("kbert",)
UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("cPickle", "load"), ("dill", "load"), ("dill", "loads"),
              ("joblib", "load"), ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
              ("yaml", "unsafe_load"), ("pd", "read_pickle"), ("pandas", "read_pickle")}


def sources():
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    with open(path, encoding="utf-8") as src:
                        yield os.path.relpath(path, ROOT), ast.parse(src.read(), path)


def calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                owner = f.value.id if isinstance(f.value, ast.Name) else getattr(f.value, "attr", "")
                yield owner, f.attr, node
            elif isinstance(f, ast.Name):
                yield "", f.id, node


def kw(node, name):
    return next((k.value for k in node.keywords if k.arg == name), None)


def is_const(value, expected):
    return isinstance(value, ast.Constant) and value.value is expected


def test_sources_found():
    assert sum(1 for _ in sources()) > 20


def test_no_unpickling_loaders():
    bad = [f"{path}:{node.lineno} {owner}.{name}" for path, tree in sources()
           for owner, name, node in calls(tree) if (owner, name) in UNPICKLERS]
    assert not bad, f"untrusted-file unpicklers in kbert: {bad}"


def test_torch_load_is_weights_only():
    bad = []
    for path, tree in sources():
        for owner, name, node in calls(tree):
            if owner == "torch" and name == "load":
                value = kw(node, "weights_only")
                if value is None or is_const(value, False):
                    bad.append(f"{path}:{node.lineno}")
    assert not bad, f"torch.load without weights_only=True: {bad}"


def test_numpy_load_never_allows_pickle():
    bad = [f"{path}:{node.lineno}" for path, tree in sources() for owner, name, node in calls(tree)
           if owner in ("np", "numpy") and name == "load" and kw(node, "allow_pickle") is not None
           and not is_const(kw(node, "allow_pickle"), False)]
    assert not bad, f"np.load(allow_pickle=...) in: {bad}"


def test_keras_load_model_keeps_safe_mode():
    bad = [f"{path}:{node.lineno}" for path, tree in sources() for owner, name, node in calls(tree)
           if name == "load_model" and kw(node, "safe_mode") is not None and not is_const(kw(node, "safe_mode"), True)]
    assert not bad, f"load_model(safe_mode=...) not True in: {bad}"
    assert not [p for p, t in sources() for o, n, c in calls(t) if o == "config" and n == "enable_unsafe_deserialization"]


def test_yaml_load_uses_a_safe_loader():
    bad = []
    for path, tree in sources():
        for owner, name, node in calls(tree):
            if owner == "yaml" and name == "load":
                loader = kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if not (isinstance(loader, ast.Attribute) and loader.attr in ("SafeLoader", "CSafeLoader")):
                    bad.append(f"{path}:{node.lineno}")
    assert not bad, f"yaml.load without SafeLoader: {bad}"


def test_allow_pickle_parameters_default_to_false():
    found = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                defaults = dict(zip([a.arg for a in positional][-len(args.defaults):], args.defaults)) if args.defaults else {}
                defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
                for name in ("allow_pickle", "unsafe", "trust_remote_code"):
                    if name in [a.arg for a in positional + args.kwonlyargs]:
                        found.append(node.name)
                        assert name in defaults and is_const(defaults[name], False), (
                            f"{path}:{node.lineno} {node.name}({name}=...) must default to False")
    assert "read_weights" in found and "load_hf" in found


def test_the_checker_catches_unsafe_code():
    """The checks above are not vacuous: they flag each unsafe pattern."""
    tree = ast.parse("import torch, pickle, keras\n"
                     "torch.load(p)\ntorch.load(p, weights_only=False)\npickle.load(f)\n"
                     "keras.saving.load_model(p, safe_mode=False)\n")
    found = [(o, n, kw(c, "weights_only"), kw(c, "safe_mode")) for o, n, c in calls(tree)]
    assert ("pickle", "load") in {(o, n) for o, n, *_ in found}
    torch_calls = [w for o, n, w, _ in found if (o, n) == ("torch", "load")]
    assert torch_calls[0] is None and is_const(torch_calls[1], False)
    assert any(n == "load_model" and is_const(s, False) for _, n, _, s in found)
