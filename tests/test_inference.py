"""kbert.inference: the compiled fixed-shape encoder path gives the model's own outputs."""

import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.inference import compile_encoder, configure_threads


@pytest.mark.parametrize("preset", ["bert_tiny", "distilbert_tiny"])
def test_compiled_encoder_matches_model(preset):
    encoder = kbert.models.backbone(preset, num_layers=1)
    fast = compile_encoder(encoder, batch=3, seq_len=12)
    inputs = {k: np.asarray(v) for k, v in kbert.models.dummy_inputs(encoder, 3, 12).items()}
    rng = np.random.default_rng(0)
    inputs["token_ids"] = rng.integers(5, 200, (3, 12)).astype("int32")
    inputs["padding_mask"][2, 7:] = 0
    want = kbert.models.sequence_output(encoder(inputs, training=False))
    got = kbert.models.sequence_output(fast(inputs))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-5)
    # a smaller batch is padded to the compiled one and sliced back, without retracing
    part = {k: v[:2] for k, v in inputs.items()}
    np.testing.assert_allclose(np.asarray(kbert.models.sequence_output(fast(part))), np.asarray(want)[:2], atol=2e-5)
    assert fast.forward.experimental_get_tracing_count() == 1


def test_compiled_encoder_rejects_other_shapes():
    encoder = kbert.models.backbone("bert_tiny", num_layers=1)
    fast = compile_encoder(encoder, batch=2, seq_len=8)
    inputs = {k: np.asarray(v) for k, v in kbert.models.dummy_inputs(encoder, 2, 16).items()}
    with pytest.raises(KbertInputError, match=r"shape \(2, 16\).*\[n <= 2, 8\]"):
        fast(inputs)
    with pytest.raises(KbertInputError, match="missing model inputs"):
        fast({"token_ids": inputs["token_ids"][:, :8]})
    with pytest.raises(KbertInputError, match="must be positive"):
        compile_encoder(encoder, batch=0, seq_len=8)


def test_configure_threads_before_and_after_start():
    import subprocess
    import sys

    code = ("from kbert.inference import configure_threads; import tensorflow as tf\n"
            "print(configure_threads(intra=1, inter=1), tf.config.threading.get_inter_op_parallelism_threads())\n"
            "tf.constant(1.0) + 1.0\n"
            "print(configure_threads(intra=2, inter=2))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True", "1", "False"]


def _ragged_inputs(encoder, lengths, width, seed=0):
    rng = np.random.default_rng(seed)
    n = len(lengths)
    inputs = {k: np.zeros((n, width), "int32") for k in encoder.input}
    for i, length in enumerate(lengths):
        inputs["token_ids"][i, :length] = rng.integers(5, 200, length)
        inputs["padding_mask"][i, :length] = 1
    return inputs


@pytest.mark.parametrize("pooling", [None, "mean"])
def test_bucketed_encoder_matches_full_length_padding(pooling):
    from kbert.tasks.classifier import build_classifier

    encoder = kbert.models.backbone("bert_tiny", num_layers=1)
    model = encoder if pooling is None else build_classifier(encoder, num_classes=3, pooling=pooling)
    full = compile_encoder(model, batch=4, seq_len=32)
    fast = compile_encoder(model, batch=4, seq_len=32, buckets=(8, 16))
    assert fast.buckets == (8, 16, 32)
    for lengths, bucket in (([5, 3, 7, 2], 8), ([12, 3], 16), ([20, 9, 1], 32), ([6, 6, 6], 8)):
        inputs = _ragged_inputs(encoder, lengths, 32)
        want, got = full(inputs), fast(inputs)
        if pooling is None:
            w, g = np.asarray(want["sequence_output"]), np.asarray(got["sequence_output"])
            assert g.shape == (len(lengths), bucket, 128)
            for i, length in enumerate(lengths):  # real tokens equal; past them, full-length padding
                np.testing.assert_allclose(g[i, :length], w[i, :length], atol=2e-5)
        else:
            np.testing.assert_allclose(np.asarray(got["logits"]), np.asarray(want["logits"]), atol=2e-5)
    assert sorted(fast.graphs) == [8, 16, 32]  # a handful of compiled shapes, not one per batch
    assert all(g.experimental_get_tracing_count() == 1 for g in fast.graphs.values())
    # inputs narrower than seq_len (already dynamically padded by the caller) are accepted
    narrow = _ragged_inputs(encoder, [4, 10], 10)
    assert fast(narrow)[("sequence_output" if pooling is None else "logits")].shape[0] == 2
    with pytest.raises(KbertInputError, match=r"\[n <= 4, T <= 32\]"):
        fast(_ragged_inputs(encoder, [4], 40))


def test_bucket_lengths_and_graph_trim():
    import tensorflow as tf

    from kbert.inference import bucket_lengths, pick_bucket, trim_to_bucket

    assert bucket_lengths(128) == tuple(range(8, 129, 8)) and bucket_lengths(20, [8]) == (8, 20)
    assert bucket_lengths(512)[-5:] == (384, 416, 448, 480, 512) and bucket_lengths(130)[-2:] == (128, 130)
    assert pick_bucket(9, (8, 16, 32)) == 16 and pick_bucket(0, (8, 16)) == 8 and pick_bucket(99, (8, 16)) == 16
    with pytest.raises(KbertInputError, match="buckets"):
        bucket_lengths(16, "many")
    mask = tf.constant([[1] * 9 + [0] * 23, [1] * 3 + [0] * 29])
    trimmed, length = trim_to_bucket({"padding_mask": mask, "token_ids": mask * 7}, (8, 16, 32))
    assert int(length) == 16 and trimmed["token_ids"].shape == (2, 16)
    empty, length = trim_to_bucket({"padding_mask": tf.zeros([0, 32], tf.int32)}, (8, 16, 32))
    assert int(length) == 8 and empty["padding_mask"].shape == (0, 8)


@pytest.mark.parametrize("preset", ["bert_tiny", "distilbert_tiny", "albert_tiny"])
def test_with_dtype_copies_weights_into_bfloat16(preset):
    from kbert.inference import with_dtype

    encoder = kbert.models.backbone(preset, num_layers=2)
    copy = with_dtype(encoder, "bfloat16")
    assert {w.dtype for w in encoder.weights} == {"float32"}  # the original is untouched
    assert {w.dtype for w in copy.weights} == {"bfloat16"}
    for a, b in zip(encoder.weights, copy.weights):
        np.testing.assert_allclose(np.asarray(b.numpy(), "float32"), a.numpy(), rtol=1e-2, atol=1e-6)
    inputs = {k: np.asarray(v) for k, v in kbert.models.dummy_inputs(encoder, 2, 12).items()}
    inputs["token_ids"] = np.random.default_rng(0).integers(5, 200, (2, 12)).astype("int32")
    want = np.asarray(kbert.models.sequence_output(encoder(inputs, training=False)))
    eager = kbert.models.sequence_output(copy(inputs, training=False))
    assert eager.dtype == "bfloat16"
    eager = np.asarray(eager, "float32")
    assert 0 < np.abs(eager - want).max() < 0.05 * np.abs(want).max()  # bf16: close, not equal
    fast = compile_encoder(copy, batch=2, seq_len=12, jit_compile=False)
    np.testing.assert_allclose(np.asarray(kbert.models.sequence_output(fast(inputs)), "float32"), eager, atol=0.05)
    with pytest.raises(KbertInputError, match="dtype must be one of"):
        with_dtype(encoder, "int8")


def test_with_dtype_keeps_a_task_models_preprocessor_and_labels():
    import keras
    from test_task_models import LABELS, TEXTS, _backbone, _pre

    from kbert.inference import with_dtype

    keras.utils.set_random_seed(0)
    clf = kbert.TextClassifier(_backbone(), labels=["neg", "pos"], preprocessor=_pre(), dropout=0.0)
    clf.compile(optimizer=keras.optimizers.Adam(1e-2))
    clf.fit(TEXTS, LABELS, epochs=3, batch_size=8, verbose=0)
    copy = with_dtype(clf)
    assert type(copy) is kbert.TextClassifier and copy.backbone.dtype_policy.name == "bfloat16"
    want, got = clf.predict(TEXTS, verbose=0)["logits"], copy.predict(TEXTS, verbose=0)["logits"]
    assert got.dtype == "float32"  # the head computes in float32
    assert np.abs(got - want).max() < 0.05 * max(1.0, np.abs(want).max())
    assert copy.predict(TEXTS[:6], decode=True, verbose=0) == clf.predict(TEXTS[:6], decode=True, verbose=0)
