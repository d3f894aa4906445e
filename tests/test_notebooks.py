"""The Colab notebooks: generated from colab/build_notebooks.py (outputs stripped) and executed
top to bottom with KBERT_SMOKE=1, as CI does."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "colab"))
import build_notebooks  # noqa: E402

nbformat = pytest.importorskip("nbformat")


@pytest.mark.parametrize("name", sorted(build_notebooks.NOTEBOOKS))
def test_notebook_is_generated_and_stripped(name):
    path = ROOT / "colab" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb == build_notebooks.build(name, build_notebooks.NOTEBOOKS[name]), f"run python colab/build_notebooks.py"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "colab-badge.svg" in nb.cells[0].source


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(build_notebooks.NOTEBOOKS))
def test_notebook_runs(name, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("KBERT_SMOKE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "colab" / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
