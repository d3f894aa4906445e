"""The code in README.md and docs/*.md runs: every ```python block of a page is executed, in
order, in a fresh interpreter (blocks fenced as ```python-norun are shown but not run, e.g. TPU
set-up). Pages run from the repository root (their outputs go to the ignored runs/) with
KBERT_SMOKE=1."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_readme_has_runnable_example():
    blocks = python_blocks(ROOT / "README.md")
    assert blocks and any("import kbert" in b for b in blocks)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.name)
def test_page_code_runs(page, tmp_path):
    code = "\n\n".join(python_blocks(page))
    script = tmp_path / f"{page.stem}_blocks.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "KBERT_SMOKE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"{page.name} code failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
