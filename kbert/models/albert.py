"""ALBERT encoders: keras-hub's `AlbertBackbone` (factorized embeddings, shared layers).

With `num_groups=1` every one of the `num_layers` layers reuses one set of weights, so the
parameter count does not grow with depth.

Inputs: `token_ids`, `segment_ids`, `padding_mask`; outputs
`{"sequence_output", "pooled_output"}` like BERT.
"""

import keras
import keras_hub

from kbert.models.activations import set_feedforward_activation

CONFIG_KEYS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "embedding_dim",
    "hidden_dim",
    "intermediate_dim",
    "num_groups",
    "num_inner_repetitions",
    "dropout",
    "max_sequence_length",
    "num_segments",
    "hidden_activation",
)


@keras.saving.register_keras_serializable(package="kbert")
class AlbertBackbone(keras_hub.models.AlbertBackbone):
    """keras-hub's `AlbertBackbone` with the GELU form as a config field (ALBERT's "gelu_new"
    tanh form by default, as in the released checkpoints)."""

    def __init__(self, *args, hidden_activation="gelu_new", **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_activation = hidden_activation
        set_feedforward_activation([l for group in self.transformer_layers for l in group], hidden_activation)

    def get_config(self):
        return {**super().get_config(), "hidden_activation": self.hidden_activation}


def build(config: dict, dtype=None) -> AlbertBackbone:
    return AlbertBackbone(**{k: config[k] for k in CONFIG_KEYS if k in config}, dtype=dtype)
