"""BERT encoders: keras-hub's `BertBackbone`, plus a shape-based parameter count.

    >>> from kbert.models import bert
    >>> model = bert.build(dict(vocabulary_size=100, num_layers=2, num_heads=2,
    ...                         hidden_dim=32, intermediate_dim=64, max_sequence_length=64))
    >>> from kbert.presets import count_params
    >>> count_params("bert", model.get_config()) == model.count_params()
    True

Inputs: `token_ids`, `segment_ids`, `padding_mask` ([batch, seq]); outputs
`{"sequence_output": [batch, seq, hidden], "pooled_output": [batch, hidden]}`.
"""

import keras
import keras_hub

from kbert.models.activations import set_feedforward_activation

CONFIG_KEYS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
    "num_segments",
    "hidden_activation",
)


@keras.saving.register_keras_serializable(package="kbert")
class BertBackbone(keras_hub.models.BertBackbone):
    """keras-hub's `BertBackbone` with the GELU form as a config field.

    `hidden_activation="gelu"` (default) is the exact form Hugging Face BERT checkpoints use;
    `"gelu_new"` is keras-hub's tanh approximation.
    """

    def __init__(self, *args, hidden_activation="gelu", **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_activation = hidden_activation
        set_feedforward_activation(self.transformer_layers, hidden_activation)

    def get_config(self):
        return {**super().get_config(), "hidden_activation": self.hidden_activation}


def build(config: dict, dtype=None) -> BertBackbone:
    return BertBackbone(**{k: config[k] for k in CONFIG_KEYS if k in config}, dtype=dtype)
