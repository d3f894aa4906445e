"""Pretraining heads shared by the pretrainers and the distiller.

- `mlm_head(encoder)`: keras-hub's `MaskedLMHead` whose output projection is tied to the encoder's
  input token embedding (for ALBERT the hidden state is first projected to the embedding size E).
- `SentencePairHead`: the 2-way classifier for next-sentence (BERT) or sentence-order (ALBERT)
  prediction on the pooled [CLS] output.

    >>> import kbert
    >>> enc = kbert.models.backbone("bert_tiny")
    >>> head = mlm_head(enc)
    >>> out = enc(kbert.models.dummy_inputs(enc))["sequence_output"]
    >>> head(out, mask_positions=[[1, 2], [3, 4]]).shape
    TensorShape([2, 2, 30522])
"""

import keras
import keras_hub

from kbert._compat.keras_hub import gelu_approximate
from kbert.models.activations import EXACT


def mlm_head(encoder, name: str = "mlm_head") -> keras_hub.layers.MaskedLMHead:
    """Masked-LM head tied to `encoder.token_embedding` (decoder weights = embedding matrix)."""
    exact = getattr(encoder, "hidden_activation", "gelu") in EXACT
    activation = "gelu" if exact else gelu_approximate()  # serializable forms (no lambdas)
    policy = encoder.dtype_policy
    # Under mixed precision keras-hub's head adds its float32 bias to float16 logits and fails;
    # the vocabulary softmax wants float32 anyway, so the head computes in float32.
    dtype = "float32" if policy.compute_dtype != policy.variable_dtype else policy
    return keras_hub.layers.MaskedLMHead(
        vocabulary_size=encoder.vocabulary_size,
        token_embedding=encoder.token_embedding,
        intermediate_activation=activation,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype=dtype,
        name=name,
    )


@keras.saving.register_keras_serializable(package="kbert")
class SentencePairHead(keras.layers.Layer):
    """Binary classifier over a [batch, hidden] pooled output: NSP (is-next) or SOP (in-order)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, pooled):
        return self.dense(pooled)
