"""GELU variants by their Hugging Face config names.

keras-hub's BERT and ALBERT backbones hard-code the tanh approximation of GELU. Checkpoints in
Hugging Face format say which one they were trained with (`hidden_act`): BERT's "gelu" is the
exact erf form, ALBERT's "gelu_new" is the tanh form. The gap is ~3e-3 in MiniLM's last hidden
state, so kbert lets the backbone use the right one.
"""

import keras

from kbert._compat.keras_hub import feedforward_dense
from kbert.errors import KbertInputError

EXACT = ("gelu",)
APPROXIMATE = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_approximate")


def gelu(name: str):
    if name in EXACT:
        return lambda x: keras.activations.gelu(x, approximate=False)
    if name in APPROXIMATE:
        return lambda x: keras.activations.gelu(x, approximate=True)
    raise KbertInputError(
        f"hidden activation {name!r} is not supported; use one of {', '.join(EXACT + APPROXIMATE)}"
    )


def set_feedforward_activation(transformer_layers, name: str):
    """Point every keras-hub TransformerEncoder's MLP at the GELU called `name`."""
    fn = gelu(name)
    for layer in transformer_layers:
        feedforward_dense(layer).activation = fn
