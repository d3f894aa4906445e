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
