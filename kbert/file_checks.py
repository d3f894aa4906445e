"""What `kbert info` checks in a model folder without building the model: the model file's archive
(CRC of every member, its config.json), the weights' values (every float tensor finite), and the
tokenizer files (a UTF-8 WordPiece vocabulary holding [UNK]; a SentencePiece model that loads).
Shapes against the architecture are checked only when the model is built (`kbert export`, `finetune`).
Each check returns a one-line description of what was checked, or raises `KbertInputError`.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

from kbert.errors import KbertInputError


def check_keras_file(path: str) -> str:
    """model.keras: a complete zip (every member's CRC), a JSON config, finite weights."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is not None:
                raise KbertInputError(f"{path} is corrupt: member {bad} fails its CRC check")
            names = set(z.namelist())
            if "config.json" not in names:
                raise KbertInputError(f"{path} has no config.json: not a Keras model file")
            json.loads(z.read("config.json"))
            weights = next((n for n in names if n.endswith(".weights.h5")), None)
            data = z.read(weights) if weights else None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise KbertInputError(f"{path} is not a complete Keras model file (truncated or corrupt: {e})") from e
    except ValueError as e:
        raise KbertInputError(f"{path}: config.json is not valid JSON ({e})") from e
    if data is None:
        return "model.keras archive intact (no weights file)"
    count = _check_h5_finite(io.BytesIO(data), f"{path}:{weights}")
    return f"model.keras archive intact, {count} weight tensors finite"


def _check_h5_finite(source, where) -> int:
    import h5py
    import numpy as np

    found = []
    try:
        with h5py.File(source, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                    if not np.isfinite(obj[()]).all():
                        raise KbertInputError(f"{where}: weight {name} holds NaN or Inf values")
                    found.append(name)
            f.visititems(visit)
    except OSError as e:
        raise KbertInputError(f"{where} is not a readable weights file ({e})") from e
    return len(found)


def check_safetensors_finite(tensors: dict, where: str) -> str:
    """Every float tensor of a safetensors file (name -> lazy array) is finite."""
    import numpy as np

    for name, get in tensors.items():
        value = get()
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise KbertInputError(f"{where}: tensor {name} holds NaN or Inf values")
    return f"{len(tensors)} weight tensors finite"


def check_vocab(path: str) -> str:
    """A WordPiece vocab.txt: UTF-8 text, one token per line, [UNK] among them."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise KbertInputError(f"{path} is empty: a WordPiece vocabulary lists one token per line")
    if b"\x00" in raw:
        raise KbertInputError(f"{path} is binary, not a vocabulary (one token per line)")
    try:
        tokens = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise KbertInputError(f"{path} is not UTF-8 text ({e})") from e
    if "[UNK]" not in tokens:
        raise KbertInputError(f"{path}: {len(tokens)} lines but no [UNK] token: not a WordPiece vocabulary")
    return f"vocab.txt: {len(tokens)} tokens"


def check_spiece(path: str) -> str:
    """A SentencePiece model that loads."""
    import sentencepiece

    try:
        sp = sentencepiece.SentencePieceProcessor(model_file=path)
    except (RuntimeError, OSError) as e:
        raise KbertInputError(f"{path} is not a SentencePiece model ({str(e).splitlines()[0]})") from e
    return f"spiece.model: {sp.get_piece_size()} pieces"


def check_tokenizer_files(folder: str) -> list[str]:
    done = []
    if os.path.isfile(os.path.join(folder, "vocab.txt")):
        done.append(check_vocab(os.path.join(folder, "vocab.txt")))
    if os.path.isfile(os.path.join(folder, "spiece.model")):
        done.append(check_spiece(os.path.join(folder, "spiece.model")))
    return done
