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

from kbert.models import sequence_output
from kbert.tasks.task_model import TaskModel, encoder_inputs


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
    inputs = encoder_inputs(encoder)
    return keras.Model(inputs, {"embeddings": embedding_output(encoder, inputs, normalize)}, name="embedder")


def embedding_output(encoder, inputs, normalize: bool = True):
    """Masked mean of the hidden states (and L2 norm) on symbolic encoder inputs."""
    hidden = sequence_output(encoder(inputs))
    pooled = MaskedMeanPooling(name="mean_pooling")(hidden, inputs["padding_mask"])
    return L2Normalize(name="l2_normalize")(pooled) if normalize else pooled


@keras.saving.register_keras_serializable(package="kbert")
class TextEmbedder(TaskModel):
    """Sentence embeddings: texts in, one vector per text out (mean pooling, L2-normalised).

    >>> import kbert
    >>> emb = kbert.TextEmbedder.from_preset("bert_tiny", seq_len=16)
    >>> vectors = emb.predict(["A cat sat.", "A kitten rested."], decode=True, verbose=0)
    >>> vectors.shape
    (2, 128)

    With `minilm` (all-MiniLM-L6-v2) these are the sentence-transformers embeddings; `fit` needs a
    loss you choose (`compile(loss=...)`), e.g. for a contrastive objective on token tensors.
    """

    task = "embed"
    # export contract (kbert.tasks.contract)
    phone_output_names = ("embeddings",)
    gate_metric = "cosine"
    metadata_name = "TextEmbedder"
    metadata_description = "Embed text into a vector."
    finetunable = False  # no labelled objective of its own: compile(loss=...) and fit
    raw_string_dataset = True

    def __init__(self, backbone, preprocessor=None, normalize: bool = True, **kwargs):
        inputs = encoder_inputs(backbone)
        self._init_task(backbone, preprocessor, inputs,
                        {"embeddings": embedding_output(backbone, inputs, normalize)}, pooler_used=False, **kwargs)
        self.normalize = bool(normalize)
        self._finish_init()

    def settings(self) -> dict:
        return {"normalize": self.normalize}

    @classmethod
    def legacy_settings(cls, model, meta) -> dict:
        return {"normalize": any(layer.name == "l2_normalize" for layer in model.layers)}

    def decode(self, outputs, features=None):
        """The embeddings as a [texts, hidden] array."""
        import numpy as np

        return np.asarray(outputs["embeddings"])

