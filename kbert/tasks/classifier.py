"""Sequence classification: an encoder, a pooled sentence vector, dropout and a Dense layer.

    >>> import kbert
    >>> from kbert.tasks.classifier import build_classifier, compile_classifier
    >>> from kbert.preprocessing import TextPreprocessor
    >>> tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"])
    >>> enc = kbert.models.backbone("bert_tiny", vocabulary_size=7)
    >>> clf = compile_classifier(build_classifier(enc, num_classes=3))
    >>> x = TextPreprocessor(tok, seq_len=8)(["good", "bad"])
    >>> clf(x)["logits"].shape
    TensorShape([2, 3])

The model follows kbert's task-model contract: inputs `{token_ids, padding_mask[, segment_ids]}`
(no segment ids for DistilBERT), output `{"logits": [batch, num_classes]}`. Sentence pairs need no
special head: the `TextPreprocessor` packs `(texts_a, texts_b)` as `[CLS] a [SEP] b [SEP]`.

`pooling` picks the sentence vector: "pooled" (BERT/ALBERT's tanh pooler over [CLS], as Hugging
Face's `*ForSequenceClassification`; DistilBERT has none, so it gets HF's Dense+ReLU
pre-classifier over [CLS]), "cls" (the raw [CLS] hidden state) or "mean" (masked mean of the
hidden states, best for sentence-transformers checkpoints such as all-MiniLM-L6-v2).
Multi-class trains with softmax cross-entropy on integer labels; `multi_label=True` trains with
sigmoid binary cross-entropy on multi-hot float labels.
"""

from __future__ import annotations

import keras

from kbert.errors import KbertInputError
from kbert.models import family_of, sequence_output
from kbert.tasks.embedder import MaskedMeanPooling

POOLINGS = ("pooled", "cls", "mean")


@keras.saving.register_keras_serializable(package="kbert")
class ClsToken(keras.layers.Layer):
    """The hidden state at position 0 ([CLS]): [batch, seq, hidden] -> [batch, hidden]."""

    def call(self, hidden):
        return hidden[:, 0, :]


def encoder_inputs(encoder) -> dict:
    """Symbolic `{token_ids, padding_mask[, segment_ids]}` inputs matching `encoder`'s family."""
    names = ["token_ids", "padding_mask"] + ([] if family_of(encoder) == "distilbert" else ["segment_ids"])
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in names}


def build_classifier(encoder, num_classes: int, multi_label: bool = False, dropout: float = 0.1,
                     pooling: str = "pooled") -> keras.Model:
    """A functional classifier: encoder inputs -> `{"logits": [batch, num_classes]}`.

    Args:
        encoder: a kbert / keras-hub BERT, DistilBERT or ALBERT backbone (random or loaded with
            `kbert.checkpoints.hf.load_hf`); its weights are shared, not copied.
        num_classes: number of labels (>= 2 for multi-class, >= 1 for multi-label).
        multi_label: labels are independent yes/no decisions (sigmoid) instead of one class (softmax).
            Recorded on the model as `model.multi_label`; the logits are the same either way.
        dropout: dropout rate before the output layer.
        pooling: "pooled", "cls" or "mean" (see the module docstring).
    """
    if num_classes < (1 if multi_label else 2):
        raise KbertInputError(f"num_classes must be >= {1 if multi_label else 2}, got {num_classes}")
    if pooling not in POOLINGS:
        raise KbertInputError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
    family = family_of(encoder)
    inputs = encoder_inputs(encoder)
    outputs = encoder(inputs)
    hidden = sequence_output(outputs)
    if pooling == "mean":
        x = MaskedMeanPooling(name="mean_pooling")(hidden, inputs["padding_mask"])
    elif pooling == "pooled" and family != "distilbert":
        x = outputs["pooled_output"]
    else:
        x = ClsToken(name="cls_token")(hidden)
        if pooling == "pooled":  # DistilBERT: HF's pre_classifier
            x = keras.layers.Dense(hidden.shape[-1], activation="relu", name="pre_classifier")(x)
    x = keras.layers.Dropout(dropout, name="classifier_dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits",
                                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))(x)
    model = keras.Model(inputs, {"logits": logits}, name="classifier")
    model.multi_label = multi_label
    return model


def classification_loss(multi_label: bool = False):
    """Softmax cross-entropy on integer labels, or sigmoid BCE on multi-hot labels (from logits)."""
    if multi_label:
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compile_classifier(model, learning_rate: float = 5e-5, multi_label: bool | None = None,
                       optimizer=None) -> keras.Model:
    """Compile with AdamW, the right loss and accuracy metrics; labels are passed as `{"logits": y}`
    or as a plain array."""
    multi_label = getattr(model, "multi_label", False) if multi_label is None else multi_label
    metric = (keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0) if multi_label
              else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    model.compile(optimizer=optimizer or keras.optimizers.AdamW(learning_rate, weight_decay=0.01),
                  loss={"logits": classification_loss(multi_label)}, metrics={"logits": [metric]})
    return model


def predict_labels(logits, labels=None, multi_label: bool = False, threshold: float = 0.5):
    """Logits -> predicted class ids (or label strings); multi-label -> lists per row."""
    import numpy as np

    logits = np.asarray(logits)
    if multi_label:
        probs = 1 / (1 + np.exp(-logits))
        rows = [np.nonzero(p >= threshold)[0].tolist() for p in probs]
        return [[labels[i] for i in r] for r in rows] if labels else rows
    ids = logits.argmax(-1)
    return [labels[i] for i in ids] if labels else ids
