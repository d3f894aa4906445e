"""keras-hub task classes over kbert's backbones, so a kbert classifier exported as a keras-hub preset
loads with `keras_hub.models.TextClassifier.from_preset(dir)`.

keras-hub picks a task class by the backbone class saved in the preset (`backbone_cls`, compared
exactly); kbert's `BertBackbone` / `AlbertBackbone` are subclasses (exact GELU as a config field), so
the stock `BertTextClassifier` / `AlbertTextClassifier` are not found for them. These subclasses add
nothing else: same head (pooled output -> dropout -> Dense logits), same preprocessor. DistilBERT needs
none: kbert uses keras-hub's own `DistilBertBackbone`, and its `DistilBertTextClassifier` head (first
token -> Dense+ReLU -> dropout -> Dense) is kbert's "pooled" DistilBERT head.

    >>> import keras_hub, kbert.tokenizers   # registers kbert's classes, these included  # doctest: +SKIP
    >>> clf = keras_hub.models.TextClassifier.from_preset("presets/sentiment")          # doctest: +SKIP
    >>> clf.predict(["a great film"])                                                     # doctest: +SKIP
"""

from __future__ import annotations

import keras
import keras_hub

from kbert.models.albert import AlbertBackbone
from kbert.models.bert import BertBackbone


@keras.saving.register_keras_serializable(package="kbert")
class BertTextClassifierPreprocessor(keras_hub.models.BertTextClassifierPreprocessor):
    """keras-hub's `BertTextClassifierPreprocessor`, for kbert's `BertBackbone`."""

    backbone_cls = BertBackbone


@keras.saving.register_keras_serializable(package="kbert")
class BertTextClassifier(keras_hub.models.BertTextClassifier):
    """keras-hub's `BertTextClassifier` (pooled output -> dropout -> Dense), for kbert's `BertBackbone`."""

    backbone_cls = BertBackbone
    preprocessor_cls = BertTextClassifierPreprocessor


@keras.saving.register_keras_serializable(package="kbert")
class AlbertTextClassifierPreprocessor(keras_hub.models.AlbertTextClassifierPreprocessor):
    """keras-hub's `AlbertTextClassifierPreprocessor`, for kbert's `AlbertBackbone`."""

    backbone_cls = AlbertBackbone


@keras.saving.register_keras_serializable(package="kbert")
class AlbertTextClassifier(keras_hub.models.AlbertTextClassifier):
    """keras-hub's `AlbertTextClassifier` (pooled output -> dropout -> Dense), for kbert's `AlbertBackbone`."""

    backbone_cls = AlbertBackbone
    preprocessor_cls = AlbertTextClassifierPreprocessor


TEXT_CLASSIFIERS = {  # family -> (task class, preprocessor class)
    "bert": (BertTextClassifier, BertTextClassifierPreprocessor),
    "albert": (AlbertTextClassifier, AlbertTextClassifierPreprocessor),
    "distilbert": (keras_hub.models.DistilBertTextClassifier, keras_hub.models.DistilBertTextClassifierPreprocessor),
}
