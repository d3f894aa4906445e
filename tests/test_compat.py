"""kbert/_compat holds every touch of a private TF / Keras / keras-hub / tf-text API: one test per touch
(so an upgrade that moves the private piece fails here, by name), the version check, and a scan of kbert's
source for private access anywhere else."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIVATE_MODULES = ("keras.src", "keras_hub.src", "tensorflow.python", "tensorflow_text.python",
                   "tensorflow.lite.python", "tflite_support.python")


def private_touches(package_dir):
    """(file, line, what) for each private attribute of an object other than self/cls, and each import of a
    library's private module, outside kbert/_compat."""
    found = []
    for folder, _, files in os.walk(package_dir):
        if os.path.basename(folder) == "_compat":
            continue
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(folder, f)
            with open(path, encoding="utf-8") as src:
                tree = ast.parse(src.read(), path)
            rel = os.path.relpath(path, ROOT)
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                    if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                        found.append((rel, node.lineno, node.attr))
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                    found += [(rel, node.lineno, n) for n in names if n.startswith(PRIVATE_MODULES)]
    return found


def test_scan_sees_private_access(tmp_path):
    (tmp_path / "m.py").write_text("from keras.src.layers import x\n"
                                   "def f(model, self):\n    model._run_through_graph(1)\n    self._ok = 1\n")
    what = sorted(t[2] for t in private_touches(str(tmp_path)))
    assert what == ["_run_through_graph", "keras.src.layers"]


def test_no_private_api_outside_compat():
    found = private_touches(os.path.join(ROOT, "kbert"))
    assert not found, "private API touches outside kbert/_compat: " + ", ".join(f"{f}:{n} {w}" for f, n, w in found)


def test_unknown_version_is_one_clear_error(monkeypatch):
    import kbert._compat as compat

    monkeypatch.setitem(compat.TESTED, "keras", ((9, 0), (9, 1)))
    with pytest.raises(compat.CompatError, match=r"checked on keras 9.0-9.1; installed keras 3\.\d+"):
        compat.check("keras", "a touch")
    with pytest.raises(compat.CompatError, match="a touch"):
        compat.require(object(), "anything", "keras", "a touch")


def test_a_touch_checked_from_a_later_version(monkeypatch):
    import kbert._compat as compat

    monkeypatch.setitem(compat.TESTED, "keras", ((3, 0), (9, 9)))
    have = compat.version("keras")
    compat.check("keras", "a touch", since=have)  # checked from the installed version on: fine
    later = (have[0], have[1] + 1)
    with pytest.raises(compat.CompatError, match=rf"a touch relies .* checked on keras {later[0]}\.{later[1]}-9\.9"):
        compat.check("keras", "a touch", since=later)


def test_missing_private_attribute_is_one_clear_error():
    import kbert._compat as compat

    with pytest.raises(compat.CompatError, match=r"a touch: keras \d+\.\d+ has no '_gone'"):
        compat.require(object(), "_gone", "keras", "a touch")


def _keras_hub_has_python_workflow():
    from kbert._compat import version
    from kbert._compat.keras_hub import PYTHON_WORKFLOW_SINCE

    return version("keras-hub") >= PYTHON_WORKFLOW_SINCE


def test_use_tf_workflow_before_and_since_keras_hub_python_path(monkeypatch):
    import tensorflow as tf

    import kbert
    import kbert._compat.keras_hub as hub_compat
    from kbert._compat import CompatError

    tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
    in_graph = tf.function(lambda: tf.constant(hub_compat.use_tf_workflow(tok)))
    assert bool(in_graph()) is True  # tracing tf.data / tf.function: always the TF path
    # keras-hub before 0.32 has one (TF) path and no `_use_tf_workflow`: True, not a CompatError
    monkeypatch.setattr(hub_compat, "version", lambda package: (0, 21))
    assert hub_compat.use_tf_workflow(object()) is True
    monkeypatch.setattr(hub_compat, "version", lambda package: hub_compat.PYTHON_WORKFLOW_SINCE)
    with pytest.raises(CompatError, match="has no '_use_tf_workflow'"):
        hub_compat.use_tf_workflow(object())


@pytest.mark.skipif("not _keras_hub_has_python_workflow()",
                    reason="keras-hub < 0.32 has no pure-Python tokenizer path (use_tf_workflow is always True)")
def test_map_python_strings_keeps_shapes():
    from kbert._compat.keras_hub import map_python_strings

    assert map_python_strings("Ab", str.lower) == "ab"
    assert map_python_strings(["Ab", "C"], str.lower) == ["ab", "c"]
    assert map_python_strings([["Ab"], ["C"]], str.lower) == [["ab"], ["c"]]


def test_gelu_approximate_is_keras_hub_tanh_form():
    import keras
    import numpy as np

    from kbert._compat.keras_hub import gelu_approximate

    x = np.linspace(-3, 3, 7).astype("float32")
    want = keras.ops.convert_to_numpy(keras.activations.gelu(x, approximate=True))
    assert np.allclose(keras.ops.convert_to_numpy(gelu_approximate()(x)), want, atol=1e-6)
    assert keras.saving.serialize_keras_object(gelu_approximate())  # serializable by name


def test_feedforward_dense_is_the_intermediate_dense():
    import kbert
    from kbert._compat.keras_hub import feedforward_dense

    enc = kbert.models.backbone("bert_tiny")
    dense = feedforward_dense(enc.transformer_layers[0])
    assert dense.units == enc.intermediate_dim


def test_wordpiece_split_patterns_split_words_and_punctuation():
    import tensorflow_text as tf_text

    from kbert._compat.keras_hub import wordpiece_split_patterns

    for cjk in (False, True):
        split, keep = wordpiece_split_patterns(cjk)
        words = tf_text.regex_split(["Hello, world!"], split, keep)
        assert words.to_list() == [[b"Hello", b",", b"world", b"!"]]


def test_sentencepiece_op_tokenizes_with_offsets(tmp_path):
    from kbert import tokenizer_training
    from kbert._compat.keras_hub import sentencepiece_op

    docs = tmp_path / "d.txt"
    docs.write_text("It is a truth universally acknowledged. " * 50 + "Emma Woodhouse, handsome, clever.\n" * 20)
    tok = tokenizer_training.train_sentencepiece(str(tmp_path), vocab_size=120)
    ids, starts, ends = sentencepiece_op(tok).tokenize_with_offsets(["It is a truth"])
    want = tok(["It is a truth"])
    assert ids.to_list() == (want.to_list() if hasattr(want, "to_list") else want)
    assert starts.to_list()[0][0] == 0 and ends.to_list()[0][-1] == len("It is a truth")


def test_run_graph_with_swaps_one_layer():
    import keras
    import numpy as np

    from kbert._compat.keras_engine import run_graph_with

    x = keras.Input((3,))
    dense = keras.layers.Dense(2, kernel_initializer="ones", name="d")
    model = keras.Model(x, {"y": dense(x)})
    out = run_graph_with(model, np.ones((1, 3), "float32"),
                         lambda op: (lambda *a, **k: op(*a, **k) * 10.0) if op is dense else op)
    assert np.allclose(keras.ops.convert_to_numpy(out["y"]), 30.0)


def test_in_multi_worker_mode_false_on_one_worker():
    import tensorflow as tf

    from kbert._compat.keras_engine import in_multi_worker_mode

    assert in_multi_worker_mode(tf.distribute.MultiWorkerMirroredStrategy()) is False


def test_first_replica_build_hooks_keras_build():
    import keras

    from kbert._compat.keras_engine import FirstReplicaBuild

    # the mixin overrides the method Keras calls before the first step; if Keras renames it, this fails
    assert hasattr(keras.Model, "_maybe_symbolic_build")
    assert FirstReplicaBuild._maybe_symbolic_build is not keras.Model._maybe_symbolic_build


def test_tf_profiler_trace_reads_back_the_ops_of_a_jit_function(jit_trace):
    from kbert._compat.tf_profiler import host_events, xplane_files

    paths = xplane_files(jit_trace)
    assert paths
    events = [e for p in paths for e in host_events(p)]
    names = {name for _, _, name, _, _ in events}
    # the executable's run and, within it, its thunks, named after their HLO instructions (a dot here)
    assert "CpuExecutable::ExecuteAsyncOnStream" in names, sorted(names)
    assert any(n.lower().startswith(("dot", "matmul")) for n in names), sorted(names)
    assert all(duration >= 0 and offset >= 0 for _, _, _, offset, duration in events)


def test_litert_profiler_times_the_xnnpack_ops_of_a_tflite(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from kbert._compat import CompatError, version
    from kbert._compat.litert_profiler import PROFILER_SINCE, op_times

    x = keras.Input((64,), batch_size=2, name="features")
    model = keras.Model(x, keras.layers.Dense(8)(keras.layers.Dense(256, activation="relu")(x)))
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    from ai_edge_litert.interpreter import Interpreter

    (name,) = Interpreter(model_path=str(path)).get_signature_list()["serving_default"]["inputs"]
    feed = {name: np.ones((2, 64), "float32")}
    if version("ai-edge-litert") < PROFILER_SINCE:  # smoke-lower: one clear line instead of a ctypes crash
        with pytest.raises(CompatError, match=rf"checked on ai-edge-litert {PROFILER_SINCE[0]}\.{PROFILER_SINCE[1]}"):
            op_times(str(path), feed)
        return
    times = op_times(str(path), feed, num_threads=1, calls=4)
    # both dense layers run as XNNPACK's fully connected operator; every time is a non-negative duration
    assert any(k.startswith("Fully Connected") for k in times), times
    assert all(v >= 0 for v in times.values())
    with pytest.raises(ValueError, match="has no input"):
        op_times(str(path), {"other": feed[name]})
    with pytest.raises(ValueError, match="bytes"):
        op_times(str(path), {name: np.ones((1, 64), "float32")})
