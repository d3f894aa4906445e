"""Token classification (NER, POS tagging): one label per word piece, trained on the first piece of
each word; predictions are mapped back to words.

    >>> import kbert
    >>> from kbert.tasks.token_classifier import build_token_classifier, compile_token_classifier
    >>> enc = kbert.models.backbone("bert_tiny")
    >>> ner = compile_token_classifier(build_token_classifier(enc, num_classes=5))
    >>> ner(kbert.models.dummy_inputs(enc, seq_len=12))["logits"].shape
    TensorShape([2, 12, 5])

Labels follow Hugging Face's convention: the first word piece of a word carries the word's tag id,
the other pieces and the special/padding positions carry -100 (`IGNORE`), which the loss skips
(`SparseCategoricalCrossentropy(ignore_class=-100)`). `kbert.data.tasks.ner_features` builds such
labels together with `word_index` (the word each labelled piece starts), and `word_predictions`
turns logits back into one tag per word.

Entity tags are rare next to "O" (WNUT-16 tweets: about 9 in 10 words are "O"), so a short fine-tune
can settle on predicting "O" everywhere. `compile_token_classifier(model, o_weight=0.2)` scales the
loss of the "O" positions (label id `o_index`, 0 with `ner_features`' label order) by `o_weight`
(`TokenCrossentropy`), trading precision for recall; 1.0 is the plain cross-entropy.
"""

from __future__ import annotations

import keras
import numpy as np

from kbert.data.tasks import IGNORE  # the label of pieces the loss skips, defined once with the features
from kbert.errors import KbertInputError
from kbert.models import sequence_output
from kbert.tasks.task_model import TaskModel, as_texts, encoder_inputs


def build_token_classifier(encoder, num_classes: int, dropout: float = 0.1) -> keras.Model:
    """encoder inputs -> `{"logits": [batch, seq, num_classes]}` (a Dense layer per position)."""
    if num_classes is None or num_classes < 2:
        raise KbertInputError(f"num_classes must be >= 2, got {num_classes}")
    inputs = encoder_inputs(encoder)
    return keras.Model(inputs, {"logits": token_logits(encoder, inputs, num_classes, dropout)}, name="token_classifier")


def token_logits(encoder, inputs, num_classes: int, dropout: float = 0.1):
    """The head on symbolic encoder inputs: dropout and a Dense layer on every position."""
    hidden = sequence_output(encoder(inputs))
    x = keras.layers.Dropout(dropout, name="token_dropout")(hidden)
    return keras.layers.Dense(num_classes, name="logits",
                              kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))(x)


@keras.saving.register_keras_serializable(package="kbert")
class MaskedTokenAccuracy(keras.metrics.Metric):
    """Accuracy over the positions whose label is not `IGNORE`."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_weight(name="correct", initializer="zeros")
        self.total = self.add_weight(name="total", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(keras.ops.reshape(y_true, keras.ops.shape(y_pred)[:-1]), "int32")
        pred = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        keep = keras.ops.cast(keras.ops.not_equal(y_true, IGNORE), "float32")
        self.correct.assign_add(keras.ops.sum(keras.ops.cast(keras.ops.equal(y_true, pred), "float32") * keep))
        self.total.assign_add(keras.ops.sum(keep))

    def result(self):
        return self.correct / keras.ops.maximum(self.total, 1.0)


@keras.saving.register_keras_serializable(package="kbert")
class TokenCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy over logits that skips label `IGNORE` and weights label `o_index` by `o_weight`.

    The loss is the weighted sum over labelled positions divided by the number of labelled
    positions, so `o_weight=1.0` equals `SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=-100)`.

    >>> import numpy as np
    >>> loss = TokenCrossentropy(o_weight=0.2)
    >>> float(loss(np.array([[0, 1, -100]]), np.zeros([1, 3, 3], "float32"))) > 0
    True
    """

    def __init__(self, o_weight: float = 1.0, o_index: int = 0, name="token_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 < float(o_weight) <= 1.0:
            raise KbertInputError(f"o_weight must be in (0, 1], got {o_weight}")
        self.o_weight, self.o_index = float(o_weight), int(o_index)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        keep = ops.not_equal(y_true, IGNORE)
        safe = ops.where(keep, y_true, ops.zeros_like(y_true))
        ce = keras.losses.sparse_categorical_crossentropy(safe, y_pred, from_logits=True)
        weight = ops.where(ops.equal(y_true, self.o_index), self.o_weight, 1.0) * ops.cast(keep, ce.dtype)
        per_row = ops.sum(ce * weight, axis=-1)
        # rows are summed by the reduction ("sum_over_batch_size" divides by the batch size); scale each
        # row so the total is the mean over all labelled positions of the batch
        total = ops.maximum(ops.sum(ops.cast(keep, ce.dtype)), 1.0)
        return per_row * ops.cast(ops.shape(y_true)[0], ce.dtype) / total

    def get_config(self):
        return {**super().get_config(), "o_weight": self.o_weight, "o_index": self.o_index}


def compile_token_classifier(model, learning_rate: float = 5e-5, optimizer=None, o_weight: float = 1.0,
                             o_index: int = 0) -> keras.Model:
    """AdamW + cross-entropy that ignores label -100 + accuracy over labelled pieces.

    `o_weight` < 1 down-weights the loss on label `o_index` (the "O" tag) against the entity tags.
    """
    loss = token_loss(o_weight, o_index)
    model.compile(optimizer=optimizer or keras.optimizers.AdamW(learning_rate, weight_decay=0.01),
                  loss={"logits": loss}, metrics={"logits": [MaskedTokenAccuracy()]})
    return model


def word_predictions(logits, word_index, num_words, labels=None, default=0):
    """Map piece-level logits back to one prediction per word.

    Args:
        logits: [batch, seq, classes] array.
        word_index: [batch, seq] int array: the index of the word whose FIRST piece sits at that
            position, -1 elsewhere (as returned by `kbert.data.tasks.ner_features`).
        num_words: number of words of each sentence; words cut off by truncation get `default`.
        labels: optional label names; returns strings when given.
    Returns: a list (per sentence) of lists (per word) of label ids or names.
    """
    logits, word_index = np.asarray(logits), np.asarray(word_index)
    pred = logits.argmax(-1)
    out = []
    for b, n in enumerate(num_words):
        row = [default] * int(n)
        for pos in np.nonzero(word_index[b] >= 0)[0]:
            w = int(word_index[b, pos])
            if w < n:
                row[w] = int(pred[b, pos])
        out.append([labels[i] for i in row] if labels is not None else row)
    return out


def token_loss(o_weight: float = 1.0, o_index: int = 0):
    """Cross-entropy that skips label -100; `o_weight` < 1 down-weights label `o_index`."""
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE) if o_weight == 1.0
            else TokenCrossentropy(o_weight, o_index))


@keras.saving.register_keras_serializable(package="kbert")
class TokenClassifier(TaskModel):
    """Named entities (or any tag per word): sentences in, one tag per word and entity spans out.

    >>> import kbert
    >>> ner = kbert.TokenClassifier.from_preset("bert_tiny", labels=["O", "B-PER", "I-PER"], seq_len=16)
    >>> _ = ner.fit([["Ada", "wrote"], ["Alan", "Turing", "ran"]], [["B-PER", "O"], ["B-PER", "I-PER", "O"]],
    ...             verbose=0)
    >>> ents = ner.predict(["Ada Lovelace wrote"], decode=True, verbose=0)[0]   # entity dicts
    >>> all(set(e) == {"entity", "text", "start", "end", "words"} for e in ents)
    True

    Inputs are sentences as strings (split into words and punctuation, with character offsets) or
    as lists of words; training labels are one tag name (or id) per word. The first word piece of
    each word carries its tag, the other pieces are ignored (module docstring). `predict(...,
    decode=True)` returns per sentence a list of entities `{"entity", "text", "start", "end",
    "words"}` (character offsets for string input, None for word lists; `words` = [first, last+1]),
    with seqeval's BIO chunking; `predict_tags` gives the tag of every word.

    Args:
        backbone: the encoder. labels: tag names, index = tag id ("O" first by convention).
        preprocessor: its tokenizer splits words into pieces; `seq_len` bounds the pieces.
        dropout: before the output layer. o_weight: loss weight of tag `labels[0]` (see above).
    """

    task = "ner"
    # export contract (kbert.tasks.contract)
    phone_output_names = ("logits",)
    length_free_labels = False  # labels are token positions at the trained length
    gate_metric = "token_labels"
    metadata_name = "BertTokenClassifier"
    metadata_description = "Label each token."
    serving_outputs = "token_labels"
    needs_labels = True

    def __init__(self, backbone, labels=None, num_classes: int | None = None, preprocessor=None,
                 dropout: float = 0.1, o_weight: float = 1.0, **kwargs):
        labels = [str(v) for v in labels] if labels is not None else None
        if labels is not None and num_classes is not None and len(labels) != num_classes:
            raise KbertInputError(f"{len(labels)} labels {labels} but num_classes={num_classes}")
        num_classes = len(labels) if labels is not None else num_classes
        if num_classes is None or num_classes < 2:
            raise KbertInputError(f"a token classifier needs labels (or num_classes >= 2), got {labels or num_classes}")
        inputs = encoder_inputs(backbone)
        logits = token_logits(backbone, inputs, int(num_classes), dropout)
        self._init_task(backbone, preprocessor, inputs, {"logits": logits}, pooler_used=False, **kwargs)
        self.num_classes, self.labels = int(num_classes), labels
        self.dropout, self.o_weight = float(dropout), float(o_weight)
        self._finish_init()

    def settings(self) -> dict:
        return {"labels": self.labels, "num_classes": self.num_classes, "dropout": self.dropout,
                "o_weight": self.o_weight}

    def label_names(self) -> list[str]:
        return list(self.labels) if self.labels is not None else [str(i) for i in range(self.num_classes)]

    def export_meta(self) -> dict:
        return {**super().export_meta(), "labels": self.label_names()}

    @classmethod
    def legacy_settings(cls, model, meta) -> dict:
        return {"labels": meta.get("labels"), "num_classes": int(model.output["logits"].shape[-1])}

    def default_loss(self):
        return {"logits": token_loss(self.o_weight, 0)}

    def default_metrics(self):
        return {"logits": [MaskedTokenAccuracy()]}

    @staticmethod
    def _sentences(x):
        """(list of word lists, list of word character spans or None per sentence)."""
        if isinstance(x, (str, bytes)) or (isinstance(x, list) and x and isinstance(x[0], (str, bytes))) \
                or hasattr(x, "dtype"):
            from kbert.data.tasks import split_words

            texts = as_texts(x)
            split = [split_words(t) for t in texts]
            return [[w for w, _, _ in s] for s in split], [[(a, b) for _, a, b in s] for s in split], texts
        return [list(s) for s in x], None, None

    def prepare(self, x, y=None, training=False):
        from kbert.data.tasks import model_inputs, ner_features

        if self.preprocessor is None:
            raise KbertInputError(f"{self.name} has no preprocessor, so it takes token tensors only")
        words, spans, texts = self._sentences(x)
        tags = None
        if y is not None:
            names = self.label_names()
            tags = [[names[int(t)] if not isinstance(t, str) else t for t in row] for row in y]
        f = ner_features(self.tokenizer, words, tags, self.label_names(), self.seq_len,
                         segments=self.family != "distilbert", on_error="raise", source="input")
        f.update(words=words, spans=spans, texts=texts)
        return model_inputs(f), ({"logits": f["labels"]} if tags is not None else None), f

    def predict_tags(self, x, **kwargs) -> list[list[str]]:
        """One tag name per word of every sentence."""
        inputs, _, f = self.prepare(x)
        out = super().predict(inputs, **kwargs)
        return word_predictions(out["logits"], f["word_index"], f["num_words"], self.label_names())

    def decode(self, outputs, features=None):
        """Entities per sentence (see the class docstring); needs the features of raw input."""
        from kbert.tasks.metrics import get_entities

        if not features:
            raise KbertInputError("decode=True needs raw sentences as input (strings or word lists)")
        tags = word_predictions(outputs["logits"], features["word_index"], features["num_words"], self.label_names())
        result = []
        for n, row in enumerate(tags):
            words, spans = features["words"][n], features["spans"][n] if features["spans"] else None
            ents = []
            for typ, i, j in get_entities(row):
                if spans:
                    start, end = spans[i][0], spans[j][1]
                    text = features["texts"][n][start:end]
                else:
                    start = end = None
                    text = " ".join(words[i:j + 1])
                ents.append({"entity": typ, "text": text, "start": start, "end": end, "words": [i, j + 1]})
            result.append(ents)
        return result

    # ----------------------------------------------------------------- the fine-tuning recipe
    @classmethod
    def recipe_settings(cls, config, labels=None) -> dict:
        return dict(labels=labels, dropout=float(config.dropout), o_weight=float(config.o_weight))

    @classmethod
    def read_file(cls, path, config, label_names=None):
        """FILE.conll|.txt: token ... tag per line, sentences apart by blank lines."""
        from kbert.data.files import read_conll

        return read_conll(path, label_names=label_names)

    def recipe_features(self, data, config, training=True):
        from kbert.data.tasks import model_inputs, ner_features

        f = ner_features(self.tokenizer, data.sentences, data.tags, self.label_names(), self.seq_len,
                         self.family != "distilbert", on_error="skip")
        return model_inputs(f), {"logits": f["labels"]}, f

    def recipe_metrics(self, x, y, extra, data, config) -> dict:
        """Entity precision / recall / F1 (seqeval's strict IOB2), per entity type too."""
        from kbert.tasks import metrics

        out = self.predict(x, batch_size=64, verbose=0)
        pred = word_predictions(out["logits"], extra["word_index"], extra["num_words"], self.label_names())
        gold = [data.tags[r - 1] for r in extra["rows"]]
        r = metrics.entity_f1(gold, pred)
        return {k: r[k] for k in ("precision", "recall", "f1", "gold", "predicted", "correct")} | {
            "n": len(gold), "per_type_f1": {k: v["f1"] for k, v in r["per_type"].items()}}

    @classmethod
    def summary_figures(cls, test) -> str:
        return f"entity P {test['precision']:.4f} R {test['recall']:.4f} F1 {test['f1']:.4f}"
