"""Corrupt or truncated files give clear errors: never a segfault, never a silently garbage model.

Covers what tests/test_checkpoints.py and tests/test_save_load.py do not: a real `.keras` file truncated
or with its weights damaged or missing, `.tflite` files damaged at several points (run in a subprocess
so that a segfault shows as a signal), a truncated real SentencePiece model, an empty vocabulary, a
safetensors header that disagrees with its data, and config files of the wrong JSON type.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import kbert
from kbert.checkpoints.hf import load_hf
from kbert.errors import KbertInputError
from kbert.model_dir import load_model_dir, save_model_dir


# ---- .keras (kbert model directories) ---------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from kbert.tasks.embedder import build_embedder

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]
    encoder = kbert.models.backbone("bert_tiny", vocabulary_size=len(vocab), num_layers=1)
    path = tmp_path_factory.mktemp("md") / "embed"
    save_model_dir(str(path), build_embedder(encoder), kbert.tokenizers.wordpiece(vocab), task="embed", seq_len=8)
    return path


def copy_dir(src, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def rewrite_zip(path, replace=None, drop=()):
    """Rewrite the .keras zip with some members replaced or removed."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            if name in drop:
                continue
            z.writestr(name, (replace or {}).get(name, data))
    return list(members)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.98])
def test_truncated_keras_file(model_dir, tmp_path, fraction):
    d = copy_dir(model_dir, tmp_path)
    data = (d / "model.keras").read_bytes()
    (d / "model.keras").write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(KbertInputError, match="model.keras could not be loaded"):
        load_model_dir(d)


def test_keras_file_with_damaged_weights(model_dir, tmp_path):
    d = copy_dir(model_dir, tmp_path)
    with zipfile.ZipFile(d / "model.keras") as z:
        weights = z.read("model.weights.h5")
    rewrite_zip(d / "model.keras", replace={"model.weights.h5": weights[: len(weights) // 2]})
    with pytest.raises(KbertInputError, match="model.keras could not be loaded"):
        load_model_dir(d)


def test_keras_file_without_weights_is_not_a_random_model(model_dir, tmp_path):
    d = copy_dir(model_dir, tmp_path)
    names = rewrite_zip(d / "model.keras", drop=("model.weights.h5",))
    assert "model.weights.h5" in names
    with pytest.raises(KbertInputError, match="model.keras could not be loaded"):
        load_model_dir(d)


def test_keras_file_with_code_in_config_is_refused(model_dir, tmp_path):
    """safe_mode: a config that smuggles a Python lambda is rejected, not executed."""
    d = copy_dir(model_dir, tmp_path)
    with zipfile.ZipFile(d / "model.keras") as z:
        config = json.loads(z.read("config.json"))
    marker = tmp_path / "pwned"
    evil = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {
                "code": f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]",
                "defaults": None, "closure": None}}}}
    config["config"]["layers"].append({**evil, "inbound_nodes": []})
    rewrite_zip(d / "model.keras", replace={"config.json": json.dumps(config).encode()})
    with pytest.raises(KbertInputError, match="could not be loaded"):
        load_model_dir(d)
    assert not marker.exists()


def test_intact_copy_still_loads(model_dir, tmp_path):
    """The corruption tests above fail because of the damage, not because copies never load."""
    d = copy_dir(model_dir, tmp_path)
    md = load_model_dir(d)
    out = md.model({"token_ids": np.ones((1, 8), "int32"), "padding_mask": np.ones((1, 8), "int32"),
                    "segment_ids": np.zeros((1, 8), "int32")})
    assert np.isfinite(np.asarray(out["embeddings"])).all()


# ---- .tflite through tf.lite.Interpreter, in a subprocess ---------------------------------------

INTERPRETER = """
import os
import sys
import numpy as np
import tensorflow as tf

def load(path):
    try:
        interpreter = tf.lite.Interpreter(model_path=path)
        interpreter.allocate_tensors()
        for d in interpreter.get_input_details():
            interpreter.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        return "LOADED " + str(bool(np.isfinite(out).all()))
    except Exception as e:
        return "ERROR " + type(e).__name__ + " " + str(e)[:200].replace(chr(10), " ")

# TensorFlow is imported once; each file is loaded in a forked child so that a crash (SIGSEGV) in one
# is reported as that file's exit status instead of killing the others.
for path in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        line = load(path)
        os.write(w, line.encode())
        os._exit(0)
    os.close(w)
    line = b""
    while chunk := os.read(r, 4096):
        line += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(f"{os.path.basename(path)}\t{code}\t{line.decode() or '(no output)'}", flush=True)
"""

KINDS = ["empty", "truncated_16", "truncated_half", "truncated_last_byte", "zeroed_header", "not_flatbuffer", "random"]


def damage(content: bytes, kind: str) -> bytes:
    n = len(content)
    return {
        "empty": b"",
        "truncated_16": content[:16],
        "truncated_half": content[: n // 2],
        "truncated_last_byte": content[:-1],
        "zeroed_header": b"\0" * 32 + content[32:],
        "not_flatbuffer": b"TFL3" * 64,
        "random": np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes(),
    }[kind]


@pytest.fixture(scope="module")
def interpreter_results(tmp_path_factory):
    """{name: (exit code, last line)} for the intact file and every damaged copy, from one subprocess."""
    import keras
    import tensorflow as tf

    inputs = keras.Input((8,), batch_size=1, dtype="float32")
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Dense(16, activation="gelu")(inputs)))
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    d = tmp_path_factory.mktemp("tflite")
    paths = [d / "intact.tflite"]
    paths[0].write_bytes(content)
    for kind in KINDS:
        paths.append(d / f"{kind}.tflite")
        paths[-1].write_bytes(damage(content, kind))
    r = subprocess.run([sys.executable, "-c", INTERPRETER, *map(str, paths)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode == 0, r.stderr[-2000:]
    results = {}
    for row in r.stdout.splitlines():
        name, code, line = row.split("\t", 2)
        results[name[: -len(".tflite")]] = (int(code), line)
    assert len(results) == len(paths), r.stdout + r.stderr[-2000:]
    return results


def test_intact_tflite_runs(interpreter_results):
    code, line = interpreter_results["intact"]
    assert code == 0 and line == "LOADED True", line


@pytest.mark.parametrize("kind", [
    pytest.param(k, marks=pytest.mark.xfail(
        strict=True, reason="tf.lite.Interpreter (TF 2.21) segfaults (SIGSEGV) on a 256-byte buffer of 'TFL3' "
        "repeated: its flatbuffer check does not catch it; loaders of untrusted .tflite files need a subprocess"))
    if k == "not_flatbuffer" else k for k in KINDS])
def test_damaged_tflite_raises_python_error(interpreter_results, kind):
    code, line = interpreter_results[kind]
    assert code == 0, f"{kind}: the interpreter process died with {code} (signal {-code}): {line}"
    if kind != "truncated_last_byte" and kind != "zeroed_header":  # structure damaged: must be an error
        assert line.startswith("ERROR"), line


# ---- tokenizer files -----------------------------------------------------------------------------

def test_truncated_sentencepiece_model(tmp_path):
    from kbert import tokenizer_training

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(open(os.path.join(kbert.assets.path("gensim"), "pang_lee_polarity.cor"),
                           encoding="utf-8", errors="replace").read())
    tokenizer_training.train_sentencepiece(str(corpus), vocab_size=200, out=str(tmp_path / "spm"))
    data = (tmp_path / "spm" / "spiece.model").read_bytes()
    assert kbert.tokenizers.sentencepiece(data).vocabulary_size() >= 100  # the intact model loads
    for cut in (len(data) // 3, len(data) - 7):
        with pytest.raises(KbertInputError, match="SentencePiece model"):
            kbert.tokenizers.sentencepiece(data[:cut])
    (tmp_path / "empty.model").write_bytes(b"")
    with pytest.raises(KbertInputError, match="SentencePiece model is empty"):
        kbert.tokenizers.sentencepiece(tmp_path / "empty.model")


def test_empty_vocab_file(tmp_path):
    (tmp_path / "vocab.txt").write_text("")
    with pytest.raises(KbertInputError, match="vocab"):
        kbert.tokenizers.wordpiece(str(tmp_path / "vocab.txt"))


def test_corrupt_tokenizer_config(tmp_path):
    shutil.copy(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"), tmp_path / "vocab.txt")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": tru')
    with pytest.raises(KbertInputError, match="tokenizer_config.json is not valid JSON"):
        kbert.tokenizers.from_folder(str(tmp_path), "bert")


# ---- HF checkpoints: safetensors header vs data, config of the wrong type -----------------------

@pytest.fixture
def minilm_copy(tmp_path):
    dst = tmp_path / "minilm"
    shutil.copytree(kbert.assets.minilm_dir(), dst)
    return dst


def test_safetensors_header_disagreeing_with_data(minilm_copy):
    path = minilm_copy / "model.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__" and len(header[k]["shape"]) == 2)
    header[name]["shape"] = [header[name]["shape"][0] * 2, header[name]["shape"][1]]  # more data than stored
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(KbertInputError, match="model.safetensors"):
        load_hf(minilm_copy)


@pytest.mark.parametrize("content", ["[]", '"bert"', "null", "12"])
def test_config_json_that_is_not_an_object(minilm_copy, content):
    (minilm_copy / "config.json").write_text(content)
    with pytest.raises(KbertInputError, match="config.json"):
        load_hf(minilm_copy)


def test_config_json_with_wrong_value_types(minilm_copy):
    cfg = json.loads((minilm_copy / "config.json").read_text())
    (minilm_copy / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": "six"}))
    with pytest.raises(KbertInputError, match="num_hidden_layers"):
        load_hf(minilm_copy)


def test_model_dir_meta_of_the_wrong_type(model_dir, tmp_path):
    d = copy_dir(model_dir, tmp_path)
    (d / "kbert.json").write_text("[1, 2]")
    with pytest.raises(KbertInputError, match="kbert.json"):
        load_model_dir(d)
