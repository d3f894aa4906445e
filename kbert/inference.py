"""kbert's recommended CPU inference path: one XLA-compiled graph per fixed (batch, seq_len).

    >>> import numpy as np, kbert
    >>> from kbert.inference import compile_encoder
    >>> encoder = kbert.models.backbone("bert_tiny")
    >>> fast = compile_encoder(encoder, batch=2, seq_len=16)
    >>> inputs = kbert.models.dummy_inputs(encoder, 2, 16)
    >>> out = fast(inputs)
    >>> tuple(out["sequence_output"].shape)
    (2, 16, 128)

Why (measured in bench/encoder_latency.py, against `transformers` on torch CPU, side by side):
`model.predict` pays Keras' per-call data-adapter overhead and `tf.function` without XLA runs the
graph op by op; `jit_compile=True` with fully static shapes lets XLA fuse attention, GELU and
layer norm into a few kernels, which is what brings batch 1 below torch. Shapes are fixed so the
graph compiles once: a smaller batch is padded up to `batch` and the outputs sliced back; a longer
batch or another `seq_len` is an error (compile another function, one per serving shape).

`configure_threads(intra, inter)` sets TensorFlow's thread pools; call it before any TF op runs.
On a 2-core machine `inter=1` (no op-level parallelism fighting the intra-op pool) is the
measured choice. `dtype="bfloat16"` is accepted for machines with native bf16 (AVX512-BF16/AMX);
bench/encoder_latency.py reports its accuracy cost (max abs diff vs float32) and speed.
"""

from __future__ import annotations

from kbert.errors import KbertInputError


def configure_threads(intra: int | None = None, inter: int | None = 1) -> bool:
    """Set TF's intra/inter-op thread pools; returns False if TF's runtime had already started."""
    import tensorflow as tf

    try:
        if intra is not None:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter is not None:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True


def _input_names(model) -> list[str]:
    if isinstance(model.input, dict):
        return list(model.input.keys())
    raise KbertInputError(f"model {model.name!r} does not take a dict of inputs (token_ids, padding_mask, ...)")


def compile_encoder(model, batch: int, seq_len: int, jit_compile: bool = True):
    """A fast inference callable for `model` (a kbert backbone or task model with dict inputs).

    Returns `fn(inputs) -> outputs` where `inputs` is a dict of int arrays [n, seq_len] with n <= batch
    (numpy or tensors) and outputs are the model's outputs as tensors (sliced to n rows).
    """
    import tensorflow as tf

    if batch < 1 or seq_len < 1:
        raise KbertInputError(f"batch and seq_len must be positive, got batch={batch}, seq_len={seq_len}")
    names = _input_names(model)
    signature = {n: tf.TensorSpec([batch, seq_len], tf.int32, name=n) for n in names}

    @tf.function(input_signature=[signature], jit_compile=jit_compile, reduce_retracing=False)
    def forward(inputs):
        return model(inputs, training=False)

    def fn(inputs):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise KbertInputError(f"missing model inputs {missing}; the model takes {names}")
        feed, n = {}, None
        for name in names:
            x = tf.cast(tf.convert_to_tensor(inputs[name]), tf.int32)
            if x.shape.rank != 2 or x.shape[1] != seq_len or x.shape[0] > batch:
                raise KbertInputError(f"input {name!r} has shape {tuple(x.shape)}; this compiled encoder takes "
                                      f"[n <= {batch}, {seq_len}] (compile another one for other shapes)")
            n = x.shape[0]
            if n < batch:
                x = tf.pad(x, [[0, batch - n], [0, 0]])
            feed[name] = x
        out = forward(feed)
        if n == batch:
            return out
        return tf.nest.map_structure(lambda t: t[:n], out)

    fn.forward = forward
    fn.batch, fn.seq_len = batch, seq_len
    return fn
