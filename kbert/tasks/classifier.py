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
from kbert.tasks.task_model import TaskModel, encoder_inputs

POOLINGS = ("pooled", "cls", "mean")


@keras.saving.register_keras_serializable(package="kbert")
class ClsToken(keras.layers.Layer):
    """The hidden state at position 0 ([CLS]): [batch, seq, hidden] -> [batch, hidden]."""

    def call(self, hidden):
        return hidden[:, 0, :]


def _check(num_classes: int, multi_label: bool, pooling: str):
    if num_classes is None or num_classes < (1 if multi_label else 2):
        raise KbertInputError(f"num_classes must be >= {1 if multi_label else 2}, got {num_classes}")
    if pooling not in POOLINGS:
        raise KbertInputError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")


def classifier_logits(encoder, inputs, num_classes: int, dropout: float = 0.1, pooling: str = "pooled"):
    """The head on symbolic encoder inputs: pooled sentence vector -> dropout -> Dense logits."""
    family = family_of(encoder)
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
    return keras.layers.Dense(num_classes, name="logits",
                              kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))(x)


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

    `TextClassifier` is the same graph with its preprocessor and settings attached.
    """
    _check(num_classes, multi_label, pooling)
    inputs = encoder_inputs(encoder)
    logits = classifier_logits(encoder, inputs, num_classes, dropout, pooling)
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


@keras.saving.register_keras_serializable(package="kbert")
class TextClassifier(TaskModel):
    """A text classifier holding its backbone and preprocessor: raw strings (or pairs) in, labels out.

    >>> import kbert
    >>> clf = kbert.TextClassifier.from_preset("bert_tiny", labels=["neg", "pos"], seq_len=16)
    >>> _ = clf.fit(["good film", "bad film", "great", "awful"], ["pos", "neg", "pos", "neg"], verbose=0)
    >>> clf.predict(["good film"], decode=True, verbose=0)[0] in ("neg", "pos")
    True
    >>> clf.export_meta()["labels"], clf.export_meta()["pooling"]
    (['neg', 'pos'], 'pooled')

    Args:
        backbone: a kbert / keras-hub BERT, DistilBERT or ALBERT backbone.
        num_classes: number of classes (or give `labels`).
        labels: class names, index = class id; `fit` accepts these names as labels and
            `predict(..., decode=True)` returns them.
        preprocessor: a `kbert.preprocessing.TextPreprocessor` (needed for raw-text input).
        multi_label: independent sigmoid decisions (multi-hot labels, or lists of label names).
        pooling: "pooled", "cls" or "mean" (module docstring).
        dropout: dropout before the output layer.
        pair: the model classifies `(text_a, text_b)` pairs (set by `fit` when it sees pairs;
            the serving export then takes `text` and `text_b`).
        threshold: multi-label decision threshold on the sigmoid probability.
    """

    task = "classify"
    # export contract (kbert.tasks.contract)
    phone_output_names = ("probability",)
    gate_metric = "class_probability"
    raw_string_check = True
    tflite_metadata = "classifier"
    serving_outputs = "labels"
    needs_labels = True
    raw_string_dataset = True

    def __init__(self, backbone, num_classes: int | None = None, labels=None, preprocessor=None,
                 multi_label: bool = False, pooling: str = "pooled", dropout: float = 0.1, pair: bool = False,
                 threshold: float = 0.5, **kwargs):
        labels = [str(v) for v in labels] if labels is not None else None
        if labels is not None and num_classes is not None and len(labels) != num_classes:
            raise KbertInputError(f"{len(labels)} labels {labels} but num_classes={num_classes}")
        num_classes = len(labels) if labels is not None else num_classes
        _check(num_classes, multi_label, pooling)
        inputs = encoder_inputs(backbone)
        logits = classifier_logits(backbone, inputs, int(num_classes), dropout, pooling)
        self._init_task(backbone, preprocessor, inputs, {"logits": logits},
                        pooler_used=pooling == "pooled" and family_of(backbone) != "distilbert", **kwargs)
        self.num_classes, self.labels = int(num_classes), labels
        self.multi_label, self.pooling, self.dropout = bool(multi_label), pooling, float(dropout)
        self.pair, self.threshold = bool(pair), float(threshold)
        self._finish_init()

    def settings(self) -> dict:
        return {"num_classes": self.num_classes, "labels": self.labels, "multi_label": self.multi_label,
                "pooling": self.pooling, "dropout": self.dropout, "pair": self.pair, "threshold": self.threshold}

    def export_meta(self) -> dict:
        return {**super().export_meta(), "labels": self.label_names()}

    def label_names(self) -> list[str]:
        return list(self.labels) if self.labels is not None else [f"label_{i}" for i in range(self.num_classes)]

    @classmethod
    def legacy_settings(cls, model, meta) -> dict:
        names = {layer.name for layer in model.layers}
        pooling = "mean" if "mean_pooling" in names else (
            "cls" if "cls_token" in names and "pre_classifier" not in names else "pooled")
        n = int(model.output["logits"].shape[-1])
        return {"num_classes": n, "labels": meta.get("labels"), "multi_label": bool(meta.get("multi_label")),
                "pooling": pooling, "pair": bool(meta.get("pair"))}

    def default_loss(self):
        return {"logits": classification_loss(self.multi_label)}

    def default_metrics(self):
        metric = (keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0) if self.multi_label
                  else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
        return {"logits": [metric]}

    def prepare(self, x, y=None, training=False):
        pair = isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], (str, bytes))
        if pair and training:
            self.pair = True
        return self.tokenize(x), (None if y is None else self.label_arrays(y)), {}

    def label_arrays(self, y):
        """Label names or ids (multi-label: lists of names/ids, "a|b" strings or multi-hot rows) ->
        `{"logits": class ids or multi-hot rows}`."""
        import numpy as np

        from kbert.data.tasks import classification_data

        if isinstance(y, dict):
            return y
        arr = np.asarray(y) if not isinstance(y, list) else None
        if arr is not None and arr.dtype.kind in "fiub" and (arr.ndim == 1 or self.multi_label and arr.ndim == 2):
            if arr.ndim == 1 and not self.multi_label and arr.size and (arr.min() < 0 or arr.max() >= self.num_classes):
                raise KbertInputError(f"labels must be class ids in [0, {self.num_classes}), got {arr.min()}..{arr.max()}")
            return {"logits": arr.astype("float32" if self.multi_label else "int32")}
        y = list(y)
        data = classification_data(["x"] * len(y), y, label_names=self.label_names(), multi_label=self.multi_label,
                                   source="labels")
        return {"logits": data.y}

    def decode(self, outputs, features=None):
        """Label names (multi-label: a list of names per text)."""
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs
        return predict_labels(logits, self.label_names(), self.multi_label, self.threshold)

    @classmethod
    def phone_graph(cls, outputs, inputs, meta) -> dict:
        """`probability`: softmax, or sigmoid when multi-label (MediaPipe reads scores as they are)."""
        logits = outputs["logits"]
        multi = bool(meta.get("multi_label"))
        return {"probability": keras.ops.sigmoid(logits) if multi else keras.ops.softmax(logits, axis=-1)}

    # ----------------------------------------------------------------- the fine-tuning recipe
    @classmethod
    def recipe_settings(cls, config, labels=None) -> dict:
        return dict(labels=labels, multi_label=bool(config.multi_label), pooling=config.pooling,
                    dropout=float(config.dropout))

    @classmethod
    def read_file(cls, path, config, label_names=None):
        """FILE.csv|.tsv|.jsonl with `config.text_column` / `label_column` (/ `text_b_column`)."""
        from kbert.data.files import read_csv, read_jsonl_classification

        read = read_jsonl_classification if path.endswith(".jsonl") else read_csv
        return read(path, config.text_column, config.label_column, config.text_b_column, label_names=label_names,
                    multi_label=config.multi_label)

    def recipe_fit_data(self, data) -> None:
        self.pair = data.texts_b is not None

    def recipe_features(self, data, config, training=True):
        from kbert.data.tasks import count_truncated

        extra = {"truncated": count_truncated(self.tokenizer, data.texts, self.seq_len, data.texts_b)}
        return self.tokenize(data.inputs()), {"logits": data.y}, extra

    def recipe_metrics(self, x, y, extra, data, config) -> dict:
        """Accuracy, macro-F1 and the confusion matrix (multi-label: exact-match and per-label accuracy)."""
        from kbert.tasks import metrics

        logits, gold = self.predict(x, batch_size=64, verbose=0)["logits"], y["logits"]
        if self.multi_label:
            pred = (logits > 0).astype("float32")
            return {"accuracy": float((pred == gold).all(-1).mean()), "label_accuracy": float((pred == gold).mean()),
                    "n": int(len(pred))}
        pred, n = logits.argmax(-1), self.num_classes
        return {"accuracy": metrics.accuracy(gold, pred), "macro_f1": metrics.macro_f1(gold, pred, list(range(n))),
                "confusion_matrix": metrics.confusion_matrix(gold, pred, n).tolist(), "n": int(len(pred))}

    def recipe_report(self, train_extra, validation_extra) -> dict:
        return {"truncated": {"train": train_extra["truncated"], "validation": validation_extra["truncated"]}}

    def recipe_plots(self, result, out) -> list:
        import os

        from kbert.training.curves import plot_confusion

        if "confusion_matrix" not in result["test"]:
            return []
        return [plot_confusion(result["test"]["confusion_matrix"], self.label_names(),
                               os.path.join(out, "confusion_matrix.png"))]

    @classmethod
    def summary_figures(cls, test) -> str:
        return f"accuracy {test['accuracy']:.4f}" + (f", macro-F1 {test['macro_f1']:.4f}" if "macro_f1" in test else "")
