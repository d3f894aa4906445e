"""The string-in TFLite variant: the WordPiece tokenizer runs inside the graph, so an app passes raw
text. Needs tf-text's TFLite custom ops (`allow_custom_ops=True`, off by default everywhere else).

    >>> from kbert.export import string_in
    >>> content = string_in.convert(classifier, tokenizer, seq_len=128)          # doctest: +SKIP
    >>> string_in.run(content, ["what a lovely film"])[0]["probability"]         # doctest: +SKIP

Graph: `text` (string [1]) -> tf-text `FastBertTokenizer` (custom ops `FastBertNormalize`,
`FastWordpieceTokenize`) -> `[CLS] tokens [SEP]` padded to seq_len (built-in ops) -> the task model
-> the same outputs as the tensor-in export (`probability`, `embeddings`, ...).

Runtimes: the plain LiteRT interpreter with tf-text's op registrar (Python:
`tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`; Android/iOS: link tf-text's TFLite kernels and
add them to the op resolver, e.g. `tensorflow::text::tflite::AddFastWordpieceTokenize(&resolver)`).
MediaPipe Tasks and the Task Library do not load custom ops: use the tensor-in export there
(the Task Library tokenizes from the packed vocab itself).
"""

from __future__ import annotations

from kbert.errors import KbertInputError


def string_in_model(model, tokenizer, task: str, seq_len: int = 128, multi_label: bool = False):
    """Keras model: `text` string [1] -> the phone-facing outputs of `tflite.mobile_model`."""
    import keras
    import tensorflow as tf
    import tensorflow_text as tft

    from kbert.export.tflite_spec import mobile_model

    vocab = getattr(tokenizer, "vocabulary", None)
    if not isinstance(vocab, (list, tuple)) or "[CLS]" not in vocab:
        raise KbertInputError("the string-in variant supports WordPiece tokenizers (a vocab with [CLS]/[SEP]); "
                              f"got {type(tokenizer).__name__}")
    # ask the tokenizer itself (keras-hub's attributes do not always say): uncased vocabularies
    # lowercase and strip accents, like HF's BasicTokenizer
    lowercase = [int(i) for i in tokenizer("Hello")] == [int(i) for i in tokenizer("hello")]
    cls_id, sep_id, pad_id = (int(tokenizer.token_to_id(t)) for t in ("[CLS]", "[SEP]", "[PAD]"))
    fast = tft.FastBertTokenizer(vocab=list(vocab), token_out_type=tf.int32, lower_case_nfd_strip_accents=lowercase,
                                 unknown_token="[UNK]")
    inner = mobile_model(model, task, seq_len, multi_label=multi_label)

    class Tokenize(keras.layers.Layer):
        def call(self, text):
            tokens = fast.tokenize(tf.reshape(text, [1])).flat_values[: seq_len - 2]
            ids = tf.concat([[cls_id], tokens, [sep_id]], axis=0)
            n = tf.shape(ids)[0]
            ids = tf.pad(ids, [[0, seq_len - n]], constant_values=pad_id)
            mask = tf.pad(tf.ones([n], tf.int32), [[0, seq_len - n]])
            ids, mask = tf.reshape(ids, [1, seq_len]), tf.reshape(mask, [1, seq_len])
            return ids, mask, tf.zeros_like(ids)

    text = keras.Input(shape=(), batch_size=1, dtype="string", name="text")
    ids, mask, seg = Tokenize(name="tokenize")(text)
    return keras.Model(text, inner({"ids": ids, "mask": mask, "segment_ids": seg}), name="string_in")


def convert(model, tokenizer, task: str | None = None, seq_len: int = 128, multi_label: bool = False,
            mode: str = "float32") -> bytes:
    """Flatbuffer bytes of the string-in variant (float32 or dynamic-int8, per-tensor dense weights)."""
    from kbert.export.tflite_convert import explicit_attention, quiet_convert, tflite_converter
    from kbert.export.tflite_spec import infer_task

    if mode not in ("float32", "dynamic-int8"):
        raise KbertInputError(f"the string-in variant supports modes float32 and dynamic-int8, not {mode!r}")
    with explicit_attention(model):  # no folded [1, heads, seq, seq] mask constant (see kbert.export.tflite_convert)
        wrapper = string_in_model(model, tokenizer, task or infer_task(model), seq_len, multi_label)
        # allow_custom_ops: the tf-text tokenizer ops
        return quiet_convert(tflite_converter(wrapper, mode, allow_custom_ops=True, per_channel=False))


def run(content: bytes, texts, num_threads: int = 2) -> list[dict]:
    """Run the string-in flatbuffer on each text with tf-text's TFLite op registrar.

    The one place kbert runs a `.tflite` in TensorFlow's interpreter rather than LiteRT's: tf-text's
    kernels register only into TensorFlow's op resolver (`ai_edge_litert` 2.3 takes no registrars)."""
    import numpy as np
    import tensorflow_text as tft

    from kbert._compat.tflite import interpreter_with_custom_ops

    interp = interpreter_with_custom_ops(content, tft.tflite_registrar.SELECT_TFTEXT_OPS, num_threads=num_threads)
    runner = interp.get_signature_runner()
    return [runner(text=np.array([t.encode("utf-8")], dtype=object)) for t in texts]
