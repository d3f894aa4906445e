"""kbert's module import graph is acyclic, counting every import (module level and inside functions).

A cycle hidden by a function-level import still ties two modules together: neither can be read, tested
or changed alone. The graph is built from the source (AST), so the test needs no import of kbert.
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_graph(package_dir: str) -> dict[str, set[str]]:
    """{module: modules of the package it imports}, e.g. {"kbert.models": {"kbert.presets", ...}}."""
    mods = {}
    base = os.path.dirname(package_dir)
    for folder, _, files in os.walk(package_dir):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, base)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                mods[name] = path
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        pkg = m if path.endswith("__init__.py") else m.rsplit(".", 1)[0]
        with open(path, encoding="utf-8") as src:
            tree = ast.parse(src.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                b = node.module or ""
                if node.level:
                    parts = pkg.split(".")
                    b = ".".join(parts[: len(parts) - node.level + 1] + ([b] if b else []))
                targets = [b] + [f"{b}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:  # `from kbert.models import build_backbone` -> kbert.models
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != m:
                    edges[m].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_function_level_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert cycles(module_graph(str(pkg))) == [["pkg.a", "pkg.b"]]


def test_kbert_import_graph_is_acyclic():
    graph = module_graph(os.path.join(ROOT, "kbert"))
    assert "kbert.models" in graph and "kbert.checkpoints.hf" in graph
    found = cycles(graph)
    detail = "; ".join(" <-> ".join(c) + " (" + ", ".join(f"{a} -> {sorted(graph[a] & set(c))}" for a in c) + ")"
                       for c in found)
    assert not found, f"import cycles: {detail}"
