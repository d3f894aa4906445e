"""DistilBERT encoders: keras-hub's `DistilBertBackbone` (no token types, no pooler).

Inputs: `token_ids`, `padding_mask`; output: the sequence tensor [batch, seq, hidden].
"""

import keras_hub


CONFIG_KEYS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
)


def build(config: dict, dtype=None) -> keras_hub.models.DistilBertBackbone:
    return keras_hub.models.DistilBertBackbone(
        **{k: config[k] for k in CONFIG_KEYS if k in config}, dtype=dtype
    )
