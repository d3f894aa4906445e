"""Raw text -> encoder inputs: tokenize, add [CLS]/[SEP], truncate and pad to `seq_len`.

    >>> import kbert
    >>> from kbert.preprocessing import TextPreprocessor
    >>> tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi", "there"])
    >>> pre = TextPreprocessor(tok, seq_len=6)
    >>> pre(["hi there"])["token_ids"].numpy().tolist()
    [[2, 5, 6, 3, 0, 0]]

A Keras layer built on keras-hub's tokenizers and `MultiSegmentPacker`, so it runs in a tf.data
pipeline, inside a SavedModel graph, or eagerly. Pairs (`pre((questions, contexts))`) become
`[CLS] a [SEP] b [SEP]` with segment ids 0/1, truncated "round robin" like keras-hub / HF.
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kbert")
class TextPreprocessor(keras.layers.Layer):
    def __init__(self, tokenizer, seq_len: int = 128, segments: bool = True, truncate: str = "round_robin",
                 **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.seq_len = seq_len
        self.segments = segments
        self.truncate = truncate
        object.__setattr__(self, "_packer", None)  # not tracked by Keras: it has no state

    @property
    def packer(self):
        """The [CLS]/[SEP] packer. A loaded model's tokenizer gets its vocabulary (and so its special
        token ids) only after the constructor has run, so the packer is kept once they are known."""
        if self._packer is not None:
            return self._packer
        tok = self.tokenizer
        packer = keras_hub.layers.MultiSegmentPacker(
            start_value=tok.cls_token_id, end_value=tok.sep_token_id, pad_value=tok.pad_token_id,
            truncate=self.truncate, sequence_length=self.seq_len)
        if tok.cls_token_id is not None:
            object.__setattr__(self, "_packer", packer)
        return packer

    def build(self, input_shape=None):
        self.built = True  # no weights: the tokenizer and packer are lookup tables and ops

    def __call__(self, texts, **kwargs):
        return super().__call__(as_segments(texts), **kwargs)

    def call(self, texts):
        segments = [self.tokenizer(t) for t in texts]
        token_ids, segment_ids = self.packer(tuple(segments))
        out = {"token_ids": token_ids, "padding_mask": token_ids != self.tokenizer.pad_token_id}
        out["padding_mask"] = tf.cast(out["padding_mask"], "int32")
        if self.segments:
            out["segment_ids"] = segment_ids
        return out

    def get_config(self):
        config = super().get_config()
        config.update(seq_len=self.seq_len, segments=self.segments, truncate=self.truncate,
                      tokenizer=keras.saving.serialize_keras_object(self.tokenizer))
        return config

    @classmethod
    def from_config(cls, config):
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


def as_segments(texts) -> tuple:
    """Normalise input to a tuple of string tensors, one per segment.

    A string or a list/array/tensor of strings is one segment (a batch of single texts); a tuple
    of two such batches is a pair (e.g. questions and contexts).
    """
    if isinstance(texts, tuple) and texts and not isinstance(texts[0], (str, bytes)):
        return tuple(tf.convert_to_tensor(t, dtype=tf.string) for t in texts)
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    return (tf.convert_to_tensor(texts, dtype=tf.string),)


def preprocessor_for(tokenizer, family: str, seq_len: int = 128) -> TextPreprocessor:
    """The preprocessor matching an encoder family (DistilBERT takes no segment ids)."""
    return TextPreprocessor(tokenizer, seq_len=seq_len, segments=family != "distilbert")
