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
layer norm into a few kernels. `jit_compile=False` keeps the same fixed-shape graph but runs it op by op
on TF's executor with oneDNN's kernels, whose matrix multiplies can beat XLA's at larger batches on some CPUs;
for one text at a time the same bench also times a float32 `.tflite` on LiteRT (XNNPACK;
`kbert export tflite --mode float32`, `kbert.export.litert`). Which path is fastest depends on the CPU and
the batch size: the bench times all three in the same interleaved rounds and names the fastest per batch size
(`recommended` in bench/RESULTS.md's encoder_latency rows); run `kbert bench encoder_latency --quick` on your
machine to see its answer. Shapes are fixed so the
graph compiles once: a smaller batch is padded up to `batch` and the outputs sliced back; a longer
batch or another `seq_len` is an error (compile another function, one per serving shape).

Dynamic padding (`buckets=`): Hugging Face pads each batch to its longest text, which for short
texts is worth more than int8. With `buckets="auto"` (every 8 tokens up to 128, then every 32:
`DEFAULT_BUCKETS`) or your own lengths, the callable takes inputs of any length <= `seq_len`, trims
the padding to the smallest bucket that holds the batch's longest row and runs the graph compiled
for that (batch, bucket) shape, compiled on its first use: at most 16 shapes up to 128, not one per
batch, and at most 7 padding tokens per row up to 128 (Hugging Face's
`pad_to_multiple_of=8`). Coarser buckets such as (16, 32, 64, 128) compile fewer graphs but pad
more; bench/dynamic_padding.py measures both on real tweets (positions fed vs exact padding, and
speed against ONNX Runtime). Outputs equal the full-length ones on the real tokens; token-level
outputs (`sequence_output`, per-token logits) cover the bucket's positions only.

    >>> fast = compile_encoder(encoder, batch=2, seq_len=16, buckets=(8, 16))
    >>> short = kbert.models.dummy_inputs(encoder, 2, 16)
    >>> short["padding_mask"] = np.array([[1] * 5 + [0] * 11] * 2, "int32")
    >>> tuple(fast(short)["sequence_output"].shape)
    (2, 8, 128)

`configure_threads(intra, inter)` sets TensorFlow's thread pools; call it before any TF op runs.
On a 2-core machine `inter=1` (no op-level parallelism fighting the intra-op pool) is the
measured choice. On machines with native bf16 (AVX512-BF16/AMX), `with_dtype(model, "bfloat16")` copies a
float32 model with bfloat16 weights for `compile_encoder(..., jit_compile=False)`; bench/encoder_latency.py
reports its accuracy cost (max abs diff vs float32) and speed, bench/finetune_sentiment.py a fine-tuned
classifier's accuracy in bfloat16.
"""

from __future__ import annotations

from kbert.errors import KbertInputError

# every 8 tokens up to 128 (what short texts need), then every 32 up to BERT's 512
DEFAULT_BUCKETS = tuple(range(8, 128, 8)) + tuple(range(128, 513, 32))


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


_FLOAT_POLICIES = ("float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


def _with_policy(config, dtype: str):
    """`config` (a serialized Keras object) with every float dtype policy replaced by `dtype`."""
    if isinstance(config, list):
        return [_with_policy(c, dtype) for c in config]
    if not isinstance(config, dict):
        return config
    out = {}
    for key, value in config.items():
        if key == "dtype" and isinstance(value, str) and value in _FLOAT_POLICIES:
            value = dtype
        elif (key == "dtype" and isinstance(value, dict) and value.get("class_name") == "DTypePolicy"
              and value.get("config", {}).get("name") in _FLOAT_POLICIES):
            value = {**value, "config": {**value["config"], "name": dtype}}
        else:
            value = _with_policy(value, dtype)
        out[key] = value
    return out


def with_dtype(model, dtype: str = "bfloat16"):
    """A copy of `model` (any serializable Keras model: a backbone or a kbert task model) whose float layers use
    the dtype policy `dtype`, with the same weights (cast): for example a classifier fine-tuned in float32, for
    serving with bfloat16 weights on a CPU with AMX / AVX512-BF16 (`compile_encoder(with_dtype(model), ...,
    jit_compile=False)`). Layer norm still computes in float32 under `"bfloat16"`. The copy's outputs are in
    `dtype` where the layers compute in it; check how far they move on your data before serving it.

        >>> import kbert
        >>> from kbert.inference import with_dtype
        >>> encoder16 = with_dtype(kbert.models.backbone("bert_tiny", num_layers=1))
        >>> encoder16.dtype_policy.name, sorted({w.dtype for w in encoder16.weights})
        ('bfloat16', ['bfloat16'])

    A kbert task model's constructor rebuilds its head under Keras' global policy (float32 by default), so a
    classifier's logits stay float32; its backbone is in `dtype`.
    """
    import json
    import os
    import tempfile
    import warnings

    import keras

    if dtype not in _FLOAT_POLICIES:
        raise KbertInputError(f"dtype must be one of {list(_FLOAT_POLICIES)}, got {dtype!r}")
    # through Keras' own (unzipped) format: the config with the new policies, the weights cast on load, and the
    # assets a config does not hold (a tokenizer's vocabulary)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model")
        keras.saving.save_model(model, path, zipped=False)
        config_path = os.path.join(path, "config.json")
        with open(config_path) as f:
            config = _with_policy(json.load(f), dtype)
        with open(config_path, "w") as f:
            json.dump(config, f)
        with warnings.catch_warnings():  # a compiled model's optimizer state is not inference's concern
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.saving.load_model(path)


def _input_names(model) -> list[str]:
    if isinstance(model.input, dict):
        return list(model.input.keys())
    raise KbertInputError(f"model {model.name!r} does not take a dict of inputs (token_ids, padding_mask, ...)")


def bucket_lengths(seq_len: int, buckets="auto") -> tuple[int, ...]:
    """The sorted bucket lengths for `seq_len`: those < seq_len, then seq_len itself (always a bucket).

    >>> bucket_lengths(64)
    (8, 16, 24, 32, 40, 48, 56, 64)
    >>> bucket_lengths(100, (64, 32, 256))
    (32, 64, 100)
    """
    chosen = DEFAULT_BUCKETS if buckets in (None, "auto") else buckets
    try:
        chosen = sorted({int(b) for b in chosen})
    except (TypeError, ValueError):
        raise KbertInputError(f"buckets must be 'auto' or a list of positive lengths, got {buckets!r}") from None
    if not chosen or chosen[0] < 1:
        raise KbertInputError(f"buckets must be positive lengths, got {buckets!r}")
    return tuple([b for b in chosen if b < seq_len] + [seq_len])


def pick_bucket(longest: int, buckets) -> int:
    """The smallest bucket that holds `longest` tokens (the largest bucket if none does)."""
    return next((b for b in buckets if b >= longest), buckets[-1])


def trim_to_bucket(inputs: dict, buckets):
    """Graph-friendly dynamic padding: `inputs` (dict of int tensors [B, T], right-padded, with
    `padding_mask`) sliced to the smallest bucket that holds the longest row; returns (inputs, length).

    Used by the serving signatures; `buckets` as from `bucket_lengths` (its last one is T).
    """
    import tensorflow as tf

    longest = tf.reduce_max(tf.concat([tf.reduce_sum(tf.cast(inputs["padding_mask"] > 0, tf.int32), axis=1),
                                       [0]], axis=0))
    table = tf.constant(buckets, tf.int32)
    length = tf.gather(table, tf.minimum(tf.reduce_sum(tf.cast(table < longest, tf.int32)), len(buckets) - 1))
    length = tf.minimum(length, tf.shape(inputs["padding_mask"])[1])
    return {k: v[:, :length] for k, v in inputs.items()}, length


def compile_encoder(model, batch: int, seq_len: int, jit_compile: bool = True, buckets=None):
    """A fast inference callable for `model` (a kbert backbone or task model with dict inputs).

    Returns `fn(inputs) -> outputs` where `inputs` is a dict of int arrays [n, seq_len] with n <= batch
    (numpy or tensors) and outputs are the model's outputs as tensors (sliced to n rows). With
    `buckets` ("auto" or lengths), inputs may be [n, T] with T <= seq_len, right-padded; each call runs
    the graph of the smallest bucket holding its longest row (compiled on first use).

    On CPUs with AMX or AVX512-BF16, a model with bfloat16 weights (`load_hf(path, dtype="bfloat16")`; layer
    norm still computes in float32) with `jit_compile=False` runs its matmuls in oneDNN's bfloat16 kernels;
    XLA's CPU backend does not use them. Prefer `"bfloat16"` to `"mixed_bfloat16"` for inference: mixed keeps
    float32 variables and casts every weight on every call. bench/encoder_latency.py (`tf_function_bf16`)
    measures both paths, and how far the outputs move.
    """
    import numpy as np
    import tensorflow as tf

    if batch < 1 or seq_len < 1:
        raise KbertInputError(f"batch and seq_len must be positive, got batch={batch}, seq_len={seq_len}")
    names = _input_names(model)
    lengths = bucket_lengths(seq_len, buckets) if buckets is not None else (seq_len,)
    graphs = {}

    def graph(length):
        if length not in graphs:
            signature = {n: tf.TensorSpec([batch, length], tf.int32, name=n) for n in names}

            @tf.function(input_signature=[signature], jit_compile=jit_compile, reduce_retracing=False)
            def forward(inputs):
                return model(inputs, training=False)

            graphs[length] = forward
        return graphs[length]

    def fn(inputs):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise KbertInputError(f"missing model inputs {missing}; the model takes {names}")
        arrays = {name: tf.cast(tf.convert_to_tensor(inputs[name]), tf.int32) for name in names}
        length = seq_len
        if buckets is not None and "padding_mask" in arrays and arrays["padding_mask"].shape.rank == 2:
            real = np.asarray(arrays["padding_mask"]).astype(bool).sum(axis=1)
            length = pick_bucket(int(real.max()) if real.size else 0, lengths)
        feed, n = {}, None
        for name, x in arrays.items():
            width = x.shape[1] if x.shape.rank == 2 else None
            if x.shape.rank != 2 or x.shape[0] > batch or (width != seq_len if buckets is None else width > seq_len):
                want = f"[n <= {batch}, {seq_len}]" if buckets is None else f"[n <= {batch}, T <= {seq_len}]"
                raise KbertInputError(f"input {name!r} has shape {tuple(x.shape)}; this compiled encoder takes "
                                      f"{want} (compile another one for other shapes)")
            n = x.shape[0]
            x = x[:, :length] if width >= length else tf.pad(x, [[0, 0], [0, length - width]])
            if n < batch:
                x = tf.pad(x, [[0, batch - n], [0, 0]])
            feed[name] = x
        out = graph(length)(feed)
        fn.graphs[length] = graphs[length]  # the shapes this callable has run (and compiled)
        if n == batch:
            return out
        return tf.nest.map_structure(lambda t: t[:n], out)

    fn.forward = graph(seq_len)
    fn.graphs = {}
    fn.batch, fn.seq_len, fn.buckets = batch, seq_len, lengths if buckets is not None else None
    return fn
