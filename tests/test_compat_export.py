"""kbert/_compat/attention.py and kbert/_compat/tflite.py: each private touch works on the installed
versions, is undone, and refuses an unknown version with a clear message; user .tflite files are
parsed in a child process."""

import os
import subprocess
import sys

import numpy as np
import pytest

from kbert.errors import KbertInputError


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    import keras
    import tensorflow as tf

    inputs = keras.Input((8,), batch_size=1, dtype="float32", name="x")
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Dense(16, activation="gelu")(inputs)))
    from kbert.export.tflite_convert import quiet_convert

    content = quiet_convert(tf.lite.TFLiteConverter.from_keras_model(model))
    path = tmp_path_factory.mktemp("tfl") / "tiny.tflite"
    path.write_bytes(content)
    return str(path), content


def test_explicit_attention_restores_and_checks_version(monkeypatch):
    import keras
    from keras.src.layers.activations import softmax as keras_softmax

    from kbert._compat import attention

    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    before = keras_softmax._large_negative_number
    with attention.explicit_attention(layer, mask_fill=-60.0):
        assert attention.dropout_rate(layer) == 1e-9 and keras_softmax._large_negative_number("float32") == -60.0
    assert attention.dropout_rate(layer) == 0.0 and keras_softmax._large_negative_number is before
    import kbert._compat

    real_version = kbert._compat.version
    monkeypatch.setattr(kbert._compat, "version", lambda p: (9, 1) if p == "keras" else real_version(p))
    with pytest.raises(kbert._compat.CompatError, match="installed keras 9.1 is not supported"):
        with attention.explicit_attention(layer):
            pass
    monkeypatch.undo()
    assert attention.dropout_rate(layer) == 0.0


def test_explicit_attention_traces_float_masks_additively_with_the_same_scores():
    """mask_fill=None: `x + (1 - mask) * fill` and `out * mask` instead of Keras' two `where`s; same
    attention scores, and a fully masked query row is still all zeros."""
    import keras

    from kbert._compat import attention

    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.random.RandomState(0).randn(2, 5, 8).astype("float32")
    mask = np.ones((2, 5, 5), bool)
    mask[0, :, 3:] = False
    mask[1, 2, :] = False
    ref = np.asarray(layer(x, x, attention_mask=mask, return_attention_scores=True)[1])
    with attention.explicit_attention(layer):
        assert "call" in vars(layer._softmax)
        got = np.asarray(layer(x, x, attention_mask=mask, return_attention_scores=True)[1])
    assert "call" not in vars(layer._softmax)
    assert np.allclose(got, ref, atol=1e-7) and not got[1, :, 2].any() and not got[0, :, :, 3:].any()
    assert np.allclose(got.sum(-1)[0], 1.0, atol=1e-6)
    with attention.explicit_attention(layer, mask_fill=-60.0):  # int8 graphs keep the `where` form
        assert "call" not in vars(layer._softmax)


def test_litert_interpreter_runs_with_and_without_latest_xnnpack_features(tiny_tflite):
    from bench.common import litert_call

    x = {"x": np.linspace(-1, 1, 8, dtype="float32")[None]}
    plain, latest = (litert_call(tiny_tflite[1], x, latest=f)() for f in (False, True))
    assert list(plain) == list(latest) and len(plain) == 1
    (name,) = plain
    assert plain[name].shape == (1, 4) and np.allclose(plain[name], latest[name], atol=1e-6)
    assert np.allclose(litert_call(tiny_tflite[1], x, output=name)(), plain[name])


def test_tflite_compat_signatures_ops_and_version(tiny_tflite, monkeypatch):
    import tensorflow as tf

    import kbert._compat

    from kbert._compat import tflite as compat
    from kbert.export import litert

    interp = litert.interpreter(tiny_tflite[1])
    sig = compat.signature_tensor_indices(interp)
    assert list(sig["serving_default"]["inputs"]) == ["x"]
    assert "DELEGATE" in [o["op_name"] for o in compat.ops_details(interp)]
    assert litert.delegated_share(interp) == (3, 3)  # FULLY_CONNECTED, GELU, FULLY_CONNECTED
    conv = tf.lite.TFLiteConverter.from_keras_model(__import__("keras").Sequential([__import__("keras").Input((2,))]))
    compat.set_dense_per_channel(conv, True)
    assert conv._experimental_disable_per_channel_quantization_for_dense_layers is False
    real_version = kbert._compat.version
    monkeypatch.setattr(kbert._compat, "version", lambda p: (7, 0) if p == "ai-edge-litert" else real_version(p))
    with pytest.raises(kbert._compat.CompatError, match="installed ai-edge-litert 7.0"):
        compat.ops_details(interp)
    monkeypatch.setattr(kbert._compat, "version", lambda p: (3, 0))
    with pytest.raises(kbert._compat.CompatError, match="installed tensorflow 3.0"):
        compat.set_dense_per_channel(conv, False)


def test_inspect_file_figures(tiny_tflite):
    from kbert.export import litert

    info = litert.inspect_file(tiny_tflite[0])
    assert [(o["op"], o["version"], o["count"]) for o in info["ops"]][0][0] == "FULLY_CONNECTED"
    assert info["min_runtime_version"] and info["load_ms"] > 0 and info["xnnpack_share"] == 1.0
    assert info["inputs"][0]["shape"] == [1, 8] and info["size_bytes"] == len(tiny_tflite[1])


@pytest.mark.parametrize("payload", [b"TFL3" * 64, b"", b"\0" * 32])
def test_damaged_user_tflite_is_a_one_line_error_not_a_crash(tmp_path, payload):
    """The payload that segfaults tf.lite.Interpreter (tests/test_corrupt_files.py) is parsed in a child:
    kbert itself survives and `kbert info` exits 2 with the file's name."""
    from kbert.export import litert

    path = tmp_path / "bad.tflite"
    path.write_bytes(payload)
    with pytest.raises(KbertInputError, match="bad.tflite is not a loadable .tflite"):
        litert.inspect_file(str(path))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", "kbert.cli", "info", str(path)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": root}, timeout=120)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("kbert: error:")]
    assert r.returncode == 2 and len(errors) == 1 and "bad.tflite is not a loadable .tflite" in errors[0], r.stderr


def test_run_feeds_rows(tiny_tflite):
    from kbert.export import litert

    x = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    outs, latency = litert.run(tiny_tflite[1], {"x": x}, latency_runs=2)  # [n, ...] arrays fed row by row
    assert len(outs) == 3 and latency > 0
    again, _ = litert.run(tiny_tflite[1], [{"x": x[i:i + 1]} for i in range(3)])
    np.testing.assert_array_equal(np.concatenate([o["output_0"] for o in outs]),
                                  np.concatenate([o["output_0"] for o in again]))


def test_compiled_runner_matches_the_interpreter_and_names_bad_feeds(tiny_tflite):
    from kbert.export import litert

    x = np.linspace(-1, 1, 8, dtype="float32")[None]
    run = litert.compiled_runner(tiny_tflite[1])
    got = run(x=x)
    ref = litert.interpreter(tiny_tflite[1]).get_signature_runner()(x=x)
    assert list(got) == list(ref) and got[next(iter(ref))].shape == (1, 4)
    assert np.allclose(got[next(iter(ref))], ref[next(iter(ref))], atol=1e-6)
    assert np.allclose(run(x=2 * x)[next(iter(ref))], litert.interpreter(tiny_tflite[1]).get_signature_runner()(
        x=2 * x)[next(iter(ref))], atol=1e-6)  # buffers are rewritten on every call
    with pytest.raises(KbertInputError, match="needs inputs"):
        run(y=x)
    with pytest.raises(KbertInputError, match="has shape"):
        run(x=x[:, :4])
