"""The base of kbert's task models (`TextClassifier`, `TokenClassifier`, `QuestionAnswerer`,
`TextEmbedder`): a functional `keras.Model` that holds its backbone and its preprocessor.

A task model is the functional graph `{token_ids, padding_mask[, segment_ids]} -> dict of outputs`
(the contract the exporters read), plus:

- `preprocessor`: a `kbert.preprocessing.TextPreprocessor` (tokenizer + packer, `seq_len`), so
  `fit`, `evaluate` and `predict` take raw strings (or `(texts_a, texts_b)` pairs) as well as
  token tensors; each task turns raw examples into features in `prepare(x, y)`;
- `from_preset(name_or_path, ...)`: a preset, `minilm`, a Hugging Face folder, a saved `.keras`
  task model or a kbert model directory (`kbert.tasks.sources`);
- `get_config()` with every setting (labels, seq_len, family, the task's own), so
  `keras.saving.load_model(path, safe_mode=True)` gives back the same model, and `export_meta()`:
  what the TFLite and TF Serving exporters need, read from the model itself;
- `decode(outputs, features)`: the task's readable predictions (labels, entities, answers),
  returned by `predict(..., decode=True)`; `phone_outputs(outputs)`: the outputs a phone runtime
  reads.

`compile()` without arguments uses the task's loss and metrics and kbert's AdamW
(`kbert.training.optim.adamw`); the constructor compiles that way (unless `compile=False`), so a
model from `from_preset` can `fit` at once; a loaded model is compiled as it was saved
(`keras.saving.load_model(..., compile=True)`, the default) or not at all.
"""

from __future__ import annotations

import os

import keras
import numpy as np

import kbert.tokenizers  # noqa: F401  (registers kbert's tokenizer classes for loading)
from kbert.atomic import atomic_file
from kbert.errors import KbertInputError
from kbert.models import family_of
from kbert.preprocessing import TextPreprocessor, preprocessor_for  # noqa: F401  (TextPreprocessor: registered)
from kbert.tasks.contract import ExportContract


def encoder_inputs(encoder) -> dict:
    """Symbolic `{token_ids, padding_mask[, segment_ids]}` inputs matching `encoder`'s family."""
    names = ["token_ids", "padding_mask"] + ([] if family_of(encoder) == "distilbert" else ["segment_ids"])
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in names}


def is_text_batch(x) -> bool:
    """A batch of texts: a string, or a list / array / tensor of strings (or of word lists)."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO" and x.size > 0 and isinstance(x.flat[0], (str, bytes))
    if isinstance(x, list) and x:
        first = x[0]
        return isinstance(first, (str, bytes)) or (isinstance(first, (list, tuple)) and bool(first)
                                                    and isinstance(first[0], str))
    try:
        import tensorflow as tf

        return isinstance(x, tf.Tensor) and x.dtype == tf.string
    except ImportError:  # pragma: no cover
        return False


def is_raw(x) -> bool:
    """Raw text input: a batch of texts or a `(texts_a, texts_b)` pair of batches."""
    if isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], (str, bytes)):
        return is_text_batch(x[0]) and is_text_batch(x[1])
    return is_text_batch(x)


def as_texts(x) -> list:
    """A list of Python strings from a string, list, array or tensor of strings."""
    if isinstance(x, (str, bytes)):
        x = [x]
    if hasattr(x, "numpy"):
        x = x.numpy()
    return [t.decode("utf-8") if isinstance(t, bytes) else t for t in list(x)]


class TaskModel(keras.Model, ExportContract):
    """Base class; subclasses set `task`, build their graph and call `_init_task`; the exporters read
    the class's export contract (`kbert.tasks.contract`)."""

    task = ""              # the name in the task registry and the exporters ("classify", "ner", ...)
    default_seq_len = 128
    finetunable = True     # `kbert finetune --task NAME` (kbert.recipes.finetune) takes it
    raw_string_dataset = False  # fit/predict take a tf.data.Dataset of raw strings (features in-graph)

    # ----------------------------------------------------------------- construction
    def _init_task(self, backbone, preprocessor, inputs, outputs, name=None, compile=True, pooler_used=None,
                   **kwargs):
        """`pooler_used`: whether the outputs read the backbone's pooled output. False freezes the
        pooler (BERT/ALBERT's `pooled_dense`), as Hugging Face builds token-level heads without one:
        it gets no gradient, so training it would only make Keras warn "Gradients do not exist for
        variables ['pooled_dense/kernel', ...]"; True makes it trainable again (a backbone reused
        from such a model); None (a task that does not say) leaves it as it is."""
        super().__init__(inputs=inputs, outputs=outputs, name=name or self.task_name(), **kwargs)
        if pooler_used is not None:
            pooler = next((layer for layer in backbone.layers if layer.name == "pooled_dense"), None)
            if pooler is not None:
                pooler.trainable = bool(pooler_used)
        self.backbone = backbone
        self.preprocessor = preprocessor
        self._compile_on_init = compile

    def _finish_init(self):
        """Compile with the task's defaults (not when loading: Keras restores the saved compile)."""
        if self._compile_on_init:
            self.compile()

    @classmethod
    def task_name(cls) -> str:
        import re

        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    @property
    def family(self) -> str:
        return family_of(self.backbone)

    @property
    def seq_len(self) -> int | None:
        return int(self.preprocessor.seq_len) if self.preprocessor is not None else None

    @property
    def tokenizer(self):
        return self.preprocessor.tokenizer if self.preprocessor is not None else None

    def settings(self) -> dict:
        """The task's own constructor arguments (subclasses extend it)."""
        return {}

    def get_config(self):
        # Not chained to keras.Model's functional config: the constructor rebuilds the graph.
        return {"backbone": keras.saving.serialize_keras_object(self.backbone),
                "preprocessor": (keras.saving.serialize_keras_object(self.preprocessor)
                                 if self.preprocessor is not None else None),
                "name": self.name, "trainable": self.trainable,
                # informational (derived from backbone and preprocessor; read by kbert.model_dir.read_meta)
                "task": self.task, "family": self.family, "seq_len": self.seq_len,
                **self.settings()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("task", "family", "seq_len"):
            config.pop(key, None)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config, compile=False)

    def export_meta(self) -> dict:
        """What exporters need (task, family, seq_len, labels, ...), from the model itself."""
        return {"task": self.task, "family": self.family, "seq_len": self.seq_len or self.default_seq_len,
                "labels": None, **self.settings()}

    # ----------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, preset, *, seq_len: int | None = None, tokenizer=None, **kwargs):
        """A task model on the encoder `preset` points to (see `kbert.tasks.sources`).

        `preset` is a preset name (random weights), `minilm` (real weights), a Hugging Face folder,
        a `.keras` file saved by a task model, or a kbert model directory. A saved model of this
        same task comes back whole (trained head, labels, settings) when no other settings are
        given; otherwise (and for any other saved model) its encoder and tokenizer get a new head. `tokenizer` is a
        tokenizer folder (needed with ALBERT presets); `kwargs` go to the constructor
        (`num_classes=`, `labels=`, ...).
        """
        from kbert.tasks import sources

        src = sources.resolve(preset, tokenizer_dir=tokenizer, seq_len=seq_len or cls.default_seq_len)
        if src.tokenizer is None:
            raise KbertInputError(f"{preset}: no tokenizer found; pass tokenizer=FOLDER")
        whole = src.meta.get("task") == cls.task and src.model is not None and not kwargs and tokenizer is None
        if whole and isinstance(src.model, cls):  # a saved model of this task, as it was saved
            model = src.model
            if seq_len and seq_len != model.seq_len:
                model.preprocessor = preprocessor_for(src.tokenizer, src.family, seq_len)
            return model
        if whole:  # an older kbert model directory of this task: its settings from kbert.json and layers
            kwargs = cls.legacy_settings(src.model, src.meta)
        seq_len = seq_len or (src.meta.get("seq_len") if whole else None) or cls.default_seq_len
        model = cls(backbone=src.backbone, preprocessor=preprocessor_for(src.tokenizer, src.family, int(seq_len)),
                    **kwargs)
        if whole:
            model.copy_head(src.model)
        return model

    @classmethod
    def legacy_settings(cls, model, meta) -> dict:
        """Constructor arguments for a functional model saved by kbert before task classes existed."""
        return {}

    def copy_head(self, other) -> int:
        """Copy the weights of this model's non-backbone layers from `other`'s layers of the same
        name and shapes (the backbone is shared already); returns how many layers were copied."""
        copied = 0
        for layer in self.layers:
            if layer is self.backbone or not layer.weights:
                continue
            try:
                theirs = other.get_layer(layer.name)
            except ValueError:
                continue
            if [w.shape for w in theirs.get_weights()] == [tuple(w.shape) for w in layer.weights]:
                layer.set_weights(theirs.get_weights())
                copied += 1
        return copied

    # ----------------------------------------------------------------- training
    def default_loss(self):
        return None

    def default_metrics(self):
        return None

    def compile(self, optimizer="auto", loss="auto", metrics="auto", learning_rate: float = 5e-5, **kwargs):
        """Keras' compile; "auto" picks kbert's AdamW (`learning_rate`) and the task's loss / metrics."""
        from kbert.training.optim import adamw

        optimizer = adamw(learning_rate) if isinstance(optimizer, str) and optimizer == "auto" else optimizer
        loss = self.default_loss() if isinstance(loss, str) and loss == "auto" else loss
        metrics = self.default_metrics() if isinstance(metrics, str) and metrics == "auto" else metrics
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Restore the saved compile settings (and optimizer state) of a loaded model; the weight-decay
        exclusions are not part of Keras' optimizer config, so kbert's are applied again."""
        from kbert.training.optim import NO_DECAY

        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if isinstance(self.optimizer, keras.optimizers.AdamW):
            self.optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def prepare(self, x, y=None, training: bool = False):
        """Raw examples (+ labels) -> (input arrays, label arrays or None, features for `decode`)."""
        return self.tokenize(x), (None if y is None else self.label_arrays(y)), {}

    def label_arrays(self, y):
        return y

    def tokenize(self, x, chunk: int = 1024) -> dict:
        """Texts or pairs -> numpy encoder inputs through the preprocessor (in chunks)."""
        if self.preprocessor is None:
            raise KbertInputError(f"{self.name} has no preprocessor, so it takes token tensors only "
                                  "(build it with from_preset or pass preprocessor=)")
        pair = isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], (str, bytes))
        parts = tuple(as_texts(t) for t in x) if pair else (as_texts(x),)
        if pair and len(parts[0]) != len(parts[1]):
            raise KbertInputError(f"{len(parts[0])} first texts but {len(parts[1])} second texts")
        n = len(parts[0])
        if n == 0:
            raise KbertInputError("no texts given")
        chunks = []
        for i in range(0, n, chunk):
            piece = tuple(p[i:i + chunk] for p in parts)
            out = self.preprocessor(piece if pair else piece[0])
            chunks.append({k: np.asarray(v) for k, v in out.items()})
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}

    def is_raw_input(self, x) -> bool:
        """Whether `x` is raw examples for `prepare` (not token tensors or a dataset)."""
        return is_raw(x)

    def _as_arrays(self, x, y=None, training=False):
        if self.is_raw_input(x):
            return self.prepare(x, y, training=training)
        if y is not None and not isinstance(y, dict):  # a dict is keyed by output already
            y = self.label_arrays(y)
        return self._map_dataset(x), y, None

    def _map_dataset(self, x):
        """A tf.data.Dataset of raw strings gets the preprocessor mapped over it."""
        import tensorflow as tf

        if not isinstance(x, tf.data.Dataset):
            return x
        spec = x.element_spec
        head = spec[0] if isinstance(spec, tuple) else spec
        flat = tf.nest.flatten(head)
        if not flat or not all(isinstance(s, tf.TensorSpec) and s.dtype == tf.string for s in flat):
            return x
        if not self.raw_string_dataset or self.preprocessor is None:
            raise KbertInputError(f"a dataset of raw strings needs host-side features for {self.task}; "
                                  "pass lists of examples to fit/predict instead")
        pre = self.preprocessor

        def apply(*element):
            text = element[0]
            return (pre(text), *element[1:]) if len(element) > 1 else pre(text)

        return x.map(apply, num_parallel_calls=tf.data.AUTOTUNE)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        """Keras' fit; `x` may also be raw texts / pairs / examples, labelled by `y`."""
        x, y, _ = self._as_arrays(x, y, training=True)
        if isinstance(validation_data, tuple) and validation_data and self.is_raw_input(validation_data[0]):
            vx, vy, _ = self.prepare(validation_data[0], validation_data[1] if len(validation_data) > 1 else None,
                                     training=True)
            validation_data = (vx, vy)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras' evaluate; `x` may also be raw texts / pairs / examples, labelled by `y`."""
        x, y, _ = self._as_arrays(x, y, training=True)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, decode: bool = False, **kwargs):
        """Keras' predict (a dict of output arrays); `x` may also be raw texts / pairs / examples.

        `decode=True` returns the task's readable predictions instead (`decode`): labels,
        entities, answer spans.
        """
        x, _, features = self._as_arrays(x, None, training=False)
        out = super().predict(x, *args, **kwargs)
        return self.decode(out, features) if decode else out

    def decode(self, outputs, features=None):
        """Readable predictions from `predict`'s outputs (subclasses define them)."""
        return outputs

    def phone_outputs(self, outputs, inputs=None) -> dict:
        """The outputs a phone runtime reads (TFLite), from this model's outputs (`phone_graph`)."""
        return self.phone_graph(outputs, inputs or {}, self.export_meta())

    # ----------------------------------------------------------------- the fine-tuning recipe
    # What `kbert.recipes.finetune` asks the task (a new task overrides what its data needs; the
    # defaults suit a task whose data container has `inputs()` / `y` and whose metric is its loss).
    @classmethod
    def recipe_settings(cls, config, labels=None) -> dict:
        """Constructor arguments from a `FinetuneConfig` and the training data's label names."""
        return {"labels": labels} if cls.needs_labels else {}

    @classmethod
    def read_file(cls, path: str, config, label_names=None):
        """A local data file (`--data FILE`) as this task's data container; `label_names` (the
        training data's) fix the label ids of an evaluation file."""
        raise KbertInputError(f"--data {path}: task {cls.task!r} reads no data files; use a named set or tfds: name")

    def recipe_fit_data(self, data) -> None:
        """Settings learned from the training data before training (pairs, unanswerable questions)."""

    def recipe_features(self, data, config, training: bool = True):
        """(input arrays, label arrays, extra) of one split; `extra` feeds `recipe_metrics`/`recipe_report`."""
        x, y, extra = self.prepare(data.inputs(), getattr(data, "y", None), training=training)
        return x, y, dict(extra or {})

    def recipe_metrics(self, x, y, extra, data, config) -> dict:
        """The task metrics of one split (default: the compiled loss and metrics)."""
        scores = keras.Model.evaluate(self, x, y, batch_size=64, verbose=0, return_dict=True)
        return {k: float(v) for k, v in scores.items()} | {"n": int(len(next(iter(x.values()))))}

    def recipe_report(self, train_extra: dict, validation_extra: dict) -> dict:
        """Extra entries of metrics.json about the features: their `stats` (skipped rows, windows) where
        the feature builder counted them (NER, QA)."""
        if "stats" not in train_extra:
            return {}
        return {"feature_stats": {"train": train_extra["stats"], "validation": validation_extra["stats"]}}

    def recipe_plots(self, result: dict, out: str) -> list:
        """Extra plots of a finished run, written into `out` (paths)."""
        return []

    @classmethod
    def summary_figures(cls, test: dict) -> str:
        """The headline test figures of a run, for one line of the CLI."""
        return ", ".join(f"{k} {v:.4f}" for k, v in test.items() if isinstance(v, float))

    # ----------------------------------------------------------------- saving
    def save(self, filepath, overwrite: bool = True, **kwargs):
        """Keras' `.keras` file, written atomically (a temp file in the same folder, then a rename).

        `keras.saving.load_model(filepath, safe_mode=True)` (after `import kbert`) gives the same
        model back with its preprocessor, labels and settings; `kbert export tflite|serving --model
        FILE` read it.
        """

        filepath = os.fspath(filepath)
        if not filepath.endswith(".keras"):
            raise KbertInputError(f"{filepath}: a task model is saved as a .keras file (e.g. runs/clf.keras)")
        if os.path.exists(filepath) and not overwrite:
            raise KbertInputError(f"{filepath} exists; pass overwrite=True to replace it")
        with atomic_file(filepath, suffix=".keras") as tmp:  # Keras saves only to a *.keras name
            super().save(tmp, overwrite=True, **kwargs)
        return filepath
