"""Sentence embeddings: an encoder followed by masked mean pooling (and optional L2 norm), the
recipe of sentence-transformers models such as all-MiniLM-L6-v2.

    >>> import kbert
    >>> from kbert.tasks.embedder import build_embedder
    >>> enc = kbert.models.backbone("bert_tiny")
    >>> emb = build_embedder(enc)
    >>> emb(kbert.models.dummy_inputs(enc))["embeddings"].shape
    TensorShape([2, 128])
"""

import keras

from kbert.models import family_of, sequence_output


@keras.saving.register_keras_serializable(package="kbert")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of the hidden states over the positions where `padding_mask` is 1."""

    def call(self, hidden, padding_mask):
        mask = keras.ops.cast(keras.ops.expand_dims(padding_mask, -1), hidden.dtype)
        total = keras.ops.sum(hidden * mask, axis=1)
        count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1e-9)
        return total / count


@keras.saving.register_keras_serializable(package="kbert")
class L2Normalize(keras.layers.Layer):
    def call(self, x):
        return keras.ops.normalize(x, axis=-1, order=2)


def build_embedder(encoder, normalize: bool = True) -> keras.Model:
    """A functional model: encoder inputs -> {"embeddings": [batch, hidden]}."""
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("token_ids", "padding_mask", "segment_ids")}
    if family_of(encoder) == "distilbert":
        inputs.pop("segment_ids")
    hidden = sequence_output(encoder(inputs))
    pooled = MaskedMeanPooling(name="mean_pooling")(hidden, inputs["padding_mask"])
    if normalize:
        pooled = L2Normalize(name="l2_normalize")(pooled)
    return keras.Model(inputs, {"embeddings": pooled}, name="embedder")
