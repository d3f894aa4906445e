"""What a phone-ready `.tflite` looks like: modes, runtimes, tasks, tensor names, sequence length,
and the fixed-shape Keras wrapper that is converted (no conversion here; see `tflite_convert`).

    >>> from kbert.export import tflite_spec
    >>> tflite_spec.output_names("classify"), tflite_spec.INPUT_NAMES
    (('probability',), ('ids', 'mask', 'segment_ids'))
    >>> tflite_spec.quantization("dynamic-int8", "mediapipe")
    'per-channel'
    >>> tflite_spec.quantization("dynamic-int8", "tasklib")
    'per-tensor'

* **Fixed shapes, Task-Library names.** Inputs `ids`, `mask`, `segment_ids`, int32 [1, seq_len]:
  the Task Library and MediaPipe find them by these names (TFLite tensor names
  `serving_default_ids:0`, ...).
* **Outputs.** classify -> `probability` (softmax, or sigmoid when multi-label: MediaPipe
  `TextClassifier` reads scores as they are); qa -> `start_logits`, `end_logits`; ner -> `logits`;
  embed/encoder -> `embeddings`: each task's `phone_graph` (`kbert.tasks.contract`), found through the
  task registry. Always float32 (MediaPipe rejects int8 outputs).
* **Runtimes.** `mediapipe` (default: MediaPipe Tasks 1.2.3, which also means LiteRT) and `litert`
  get per-channel dynamic-int8 dense weights (FULLY_CONNECTED v12: ~10x closer to float on MiniLM);
  `tasklib` (TFLite Task Library 0.4.4, last released 2023) gets per-tensor weights, the only
  hybrid kernels its bundled runtime loads.
* **Sequence length.** The length the model was trained at (kbert.json `seq_len`), or the held-out
  data's 99th-percentile token length rounded up to a multiple of 8 when that is shorter
  (`data_seq_len`; single-text tasks: ner / qa labels are token positions at the trained length);
  `seq_len=N` overrides, `seq_len="trained"` forces the trained length; never beyond the encoder's
  position table (`max_sequence_length`).

    >>> tflite_spec.data_seq_len([12] * 980 + [41] * 15 + [64] * 5, cap=64)[0]   # p99 = 41 tokens -> 48
    48
"""

from __future__ import annotations

from kbert.errors import KbertInputError

MODES = ("float32", "float16", "dynamic-int8", "int8", "mixed")
RUNTIMES = ("mediapipe", "litert", "tasklib")
DEFAULT_RUNTIME = "mediapipe"
INPUT_NAMES = ("ids", "mask", "segment_ids")
MIN_SEQ_LEN = 3  # [CLS] one token [SEP]
DATA_LENGTH_QUANTILE = 99  # the share of held-out texts (in %) that must fit untruncated
SEQ_LEN_MULTIPLE = 8  # export lengths are rounded up to this (XNNPACK's tiles; a stable, readable number)
DEFAULT_EXPORT_SEQ_LEN = 128


def task_spec(task: str):
    """The export contract of `task` (its registry entry, `kbert.tasks.contract`)."""
    from kbert.tasks.registry import export_spec

    return export_spec(task)


def export_tasks() -> list[str]:
    """The tasks the TFLite exporter takes (the registry's)."""
    from kbert.tasks.registry import export_names

    return export_names()


def length_free_labels(task: str) -> bool:
    """Whether the held-out data may choose a shorter export length (labels not token positions)."""
    return bool(task_spec(task).length_free_labels)


def default_seq_len(task: str) -> int:
    return task_spec(task).export_seq_len or DEFAULT_EXPORT_SEQ_LEN


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise KbertInputError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    return runtime


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise KbertInputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def quantization(mode: str, runtime: str = DEFAULT_RUNTIME) -> str | None:
    """How dense weights are quantized for `mode` on `runtime` ("per-channel", "per-tensor", None)."""
    check_runtime(runtime)
    if mode != "dynamic-int8":
        return None
    return "per-tensor" if runtime == "tasklib" else "per-channel"


def output_names(task: str) -> tuple[str, ...]:
    return tuple(task_spec(task).phone_output_names)


def infer_task(model) -> str:
    """The task of a registered task model (`model.task`), else from a contract-conforming model's
    output names (a plain functional model of a built-in task)."""
    from kbert.tasks.registry import task_of

    if task_of(model):
        return task_of(model)
    try:
        output = model.output
    except (AttributeError, ValueError):
        output = None
    names = set(output.keys()) if isinstance(output, dict) else set()
    if {"start_logits", "end_logits"} <= names:
        return "qa"
    if "embeddings" in names:
        return "embed"
    if "logits" in names:
        rank = len(model.output["logits"].shape)
        return "classify" if rank == 2 else "ner"
    raise KbertInputError(f"cannot tell the task of model {model.name!r} from its outputs {sorted(names)}; "
                          "pass task=")


def _walk(layer, seen=None):
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk(child, seen)


def max_seq_len(model) -> int | None:
    """The encoder's position-table size (`max_sequence_length` of the keras-hub backbone), if any."""
    for layer in _walk(model):
        n = getattr(layer, "max_sequence_length", None)
        if isinstance(n, int) and n > 0:
            return n
    return None


def resolve_seq_len(model, task: str, requested: int | str | None = None, trained: int | None = None) -> int:
    """The export length before the data has a say: `requested` (`--seq-len`; "trained": the trained
    length), else the length the model was trained at, else the task default; a one-line
    `KbertInputError` below 3, beyond the encoder's maximum, or neither a number nor "trained"."""
    if requested == "trained":
        requested = None
    if requested is not None:
        seq_len = requested
        source = "--seq-len"
    elif trained is not None:
        seq_len, source = trained, "the trained length"
    else:
        seq_len, source = default_seq_len(task), "the default length"
    if isinstance(seq_len, bool) or not isinstance(seq_len, int):
        try:
            seq_len = int(seq_len)
        except (TypeError, ValueError):
            raise KbertInputError(f"sequence length {seq_len!r} ({source}) is not a whole number or \"trained\"") from None
    if seq_len < MIN_SEQ_LEN:
        raise KbertInputError(f"sequence length {seq_len} ({source}) is below {MIN_SEQ_LEN} ([CLS], a token, [SEP])")
    limit = max_seq_len(model)
    if limit is not None and seq_len > limit:
        if requested is None and trained is None:
            return limit
        raise KbertInputError(f"sequence length {seq_len} ({source}) is beyond the model's maximum of {limit} "
                              "positions")
    return seq_len


def token_lengths(tokenizer, texts, cap: int):
    """Each text's token count with [CLS] and [SEP], by the model's own tokenizer (at most `cap`)."""
    return tokenize(tokenizer, texts, cap)["mask"].sum(-1)


def data_seq_len(lengths, cap: int, quantile: float = DATA_LENGTH_QUANTILE,
                 multiple: int = SEQ_LEN_MULTIPLE) -> tuple[int, dict | None]:
    """(export length, why) from the held-out texts' token `lengths` (counted at most `cap`, the
    trained length): their `quantile`-th percentile (an observed length) rounded up to a multiple of
    `multiple`, never above `cap`; `cap` itself when there are no texts.

    >>> n, why = data_seq_len([10] * 995 + [41] * 5, cap=64)   # 0.5% long texts: truncated
    >>> n, why["tokens"], why["description"]
    (16, 10, 'p99 of 1,000 held-out texts = 10 tokens -> 16')
    >>> data_seq_len([70, 64, 64], cap=64)[1]["description"]      # counted at most at the cap
    'p99 of 3 held-out texts >= 64 tokens -> 64'
    """
    import numpy as np

    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lengths.size == 0:
        return cap, None
    tokens = int(np.percentile(np.minimum(lengths, cap), quantile, method="higher"))
    rounded = min(cap, max(MIN_SEQ_LEN, -(-tokens // multiple) * multiple))
    relation = ">=" if tokens >= cap else "="
    why = {"examples": int(lengths.size), "quantile": quantile, "tokens": tokens, "rounded": rounded, "cap": cap,
           "description": f"p{quantile:g} of {lengths.size:,} held-out texts {relation} {tokens} tokens -> {rounded}"}
    return rounded, why


def mobile_model(model, task: str, seq_len: int, multi_label: bool = False, batch_size: int | None = 1):
    """Wrap a task model (inputs token_ids/padding_mask[/segment_ids]) in a fixed-shape functional model
    with the Task Library's input names and the phone-facing outputs (`batch_size=None`: any batch,
    for computing the Keras reference in batches)."""
    import keras

    spec = task_spec(task)
    ins = {n: keras.Input(shape=(seq_len,), batch_size=batch_size, dtype="int32", name=n) for n in INPUT_NAMES}
    try:
        model_input = model.input
    except (AttributeError, ValueError):
        model_input = None
    names = model_input.keys() if isinstance(model_input, dict) else None
    if names is None or not {"token_ids", "padding_mask"} <= set(names):
        raise KbertInputError(f"model {model.name!r} does not take the dict inputs token_ids/padding_mask"
                              f"[/segment_ids] of the task-model contract (it takes {names})")
    feed = {"token_ids": ins["ids"], "padding_mask": ins["mask"]}
    if "segment_ids" in names:
        feed["segment_ids"] = ins["segment_ids"]
    out = model(feed)
    meta = model.export_meta() if callable(getattr(model, "export_meta", None)) else {}
    outputs = dict(spec.phone_graph(out, ins, {**meta, "multi_label": bool(multi_label or meta.get("multi_label"))}))
    if "segment_ids" not in feed:
        # DistilBERT has no segment input, but the Task Library requires the tensor: keep it alive
        # with a zero-weight use so the converter does not prune it.
        first = next(iter(outputs))
        zero = keras.ops.cast(keras.ops.sum(ins["segment_ids"]), "float32") * 0.0
        outputs[first] = outputs[first] + zero
    return keras.Model(ins, outputs, name=f"{model.name}_mobile")


def representative_inputs(tokenizer, texts, seq_len: int, family: str = "bert", pairs=None) -> list[dict]:
    """Tokenize real text into a list of {ids, mask, segment_ids} int32 [1, seq_len] arrays."""
    batch = tokenize(tokenizer, texts, seq_len, pairs=pairs)
    n = len(batch["ids"])
    return [{k: v[i:i + 1] for k, v in batch.items()} for i in range(n)]


def tokenize(tokenizer, texts, seq_len: int, pairs=None) -> dict:
    """Tokenize real text into {ids, mask, segment_ids} int32 [n, seq_len] arrays (kbert's tokenizer)."""
    from kbert.preprocessing import TextPreprocessor

    if tokenizer is None:
        raise KbertInputError("a tokenizer is needed to turn the representative/held-out text into inputs")
    pre = TextPreprocessor(tokenizer, seq_len=seq_len)
    batch = pre((list(pairs[0]), list(pairs[1]))) if pairs is not None else pre(list(texts))
    return {name: batch[key].numpy().astype("int32")
            for name, key in zip(INPUT_NAMES, ("token_ids", "padding_mask", "segment_ids"))}
