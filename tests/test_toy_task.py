"""A new task is one file (#19): the toy task below is registered here, in this test file only, and
is then trainable, exportable to TFLite (gate, metadata) and servable (TF Serving signatures)
without editing any kbert module: the exporters read its export contract from the registry."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kbert
from kbert.preprocessing import TextPreprocessor
from kbert.tasks import registry
from kbert.tasks.task_model import TaskModel, encoder_inputs

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was", "great", "bad", "very", "!"]
TEXTS = ["the film was great !", "the film was bad", "very very great", "bad bad film", "great", "the film"]
SCORES = [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]
SEQ = 8


@keras.saving.register_keras_serializable(package="kbert_test_toy")
class TextScorer(TaskModel):
    """Toy task `toy_score`: one number per text (a linear head on the [CLS] vector)."""

    task = "toy_score"
    phone_output_names = ("score",)       # what the .tflite and the serving signature return
    metadata_name = "TextScorer"
    metadata_description = "One score per text (seq len {seq_len})."

    def __init__(self, backbone, preprocessor=None, **kwargs):
        inputs = encoder_inputs(backbone)
        cls_vector = backbone(inputs)["sequence_output"][:, 0, :]
        self._init_task(backbone, preprocessor, inputs, {"score": keras.layers.Dense(1, name="score")(cls_vector)},
                        **kwargs)
        self._finish_init()

    def default_loss(self):
        return {"score": "mse"}

    def label_arrays(self, y):
        return {"score": np.asarray(y, "float32").reshape(-1, 1)}


@pytest.fixture(scope="module")
def toy():
    registry.register(TextScorer)
    try:
        keras.utils.set_random_seed(0)
        enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB), max_sequence_length=16)
        model = TextScorer(enc, preprocessor=TextPreprocessor(kbert.tokenizers.wordpiece(VOCAB), seq_len=SEQ))
        yield model
    finally:
        registry.TASKS.pop(TextScorer.task, None)  # other tests see the built-in registry


def test_toy_task_trains(toy):
    toy.compile(learning_rate=1e-2)
    first = toy.evaluate(TEXTS, SCORES, verbose=0)
    toy.fit(TEXTS, SCORES, epochs=8, batch_size=6, verbose=0)
    assert toy.evaluate(TEXTS, SCORES, verbose=0) < first
    assert registry.task_class("toy_score") is TextScorer and "toy_score" in registry.export_names()


def test_toy_task_exports_to_tflite(toy, tmp_path):
    from kbert.export import metadata, tflite
    from kbert.export.litert import run

    result = tflite.export(toy, tmp_path / "toy.tflite", heldout=TEXTS * 4, deployment=False, latency_runs=0)
    assert result.passed and result.card["task"] == "toy_score"
    assert result.card["accuracy_vs_float"]["metric"] == "cosine similarity"  # the contract's default gate
    assert result.card["accuracy_vs_float"]["min_cosine"] > 0.999
    md = metadata.describe(result.content)
    assert md["name"] == "TextScorer" and md["output_names"] == ["score"]
    assert "vocab.txt" in md["files"]
    # the phone file scores a text as the Keras model does
    pre = TextPreprocessor(toy.tokenizer, seq_len=result.card["seq_len"])(["the film was great !"])
    feed = {"ids": np.asarray(pre["token_ids"], "int32"), "mask": np.asarray(pre["padding_mask"], "int32"),
            "segment_ids": np.asarray(pre["segment_ids"], "int32")}
    lite = run(result.content, [feed])[0][0]["score"]
    keras_score = toy.predict(["the film was great !"], verbose=0)["score"]
    np.testing.assert_allclose(lite, keras_score, atol=1e-4)


def test_toy_task_is_servable(toy, tmp_path):
    from kbert.export import serving

    saved = toy.save(tmp_path / "toy.keras")
    path = serving.export_serving(saved, tmp_path / "serving" / "toy")
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["serving_default"](text=tf.constant(TEXTS[:2]))
    assert sorted(out) == ["score"]
    np.testing.assert_allclose(out["score"].numpy(), toy.predict(TEXTS[:2], verbose=0)["score"], atol=1e-5)
    assert "toy_score" in serving.serving_tasks()


class ScoreData:
    """The toy task's data container: what the recipe asks of one (len, subset, inputs, y)."""

    def __init__(self, texts, y):
        self.texts, self.y = list(texts), np.asarray(y, "float32").reshape(-1, 1)

    def __len__(self):
        return len(self.texts)

    def inputs(self):
        return self.texts

    def subset(self, index):
        return ScoreData([self.texts[i] for i in index], self.y[np.asarray(index, int)])


@keras.saving.register_keras_serializable(package="kbert_test_toy")
class FileScorer(TextScorer):
    """`TextScorer` that also reads its own data files (text,score CSV), so `kbert.recipes.finetune` trains it."""

    task = "toy_file_score"

    @classmethod
    def read_file(cls, path, config, label_names=None):
        import csv

        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return ScoreData([r[config.text_column] for r in rows], [float(r[config.label_column]) for r in rows])


def test_toy_task_trains_through_the_finetune_recipe(tmp_path):
    """The recipe (`kbert finetune`'s library function) trains, evaluates and saves a task it has never
    heard of: settings, features, metrics and the model directory all come from the registered class."""
    import csv

    from kbert.recipes.finetune import FinetuneConfig, finetune, finetune_tasks, splits, summary

    data = tmp_path / "scores.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(40):
            w.writerow([TEXTS[i % len(TEXTS)], SCORES[i % len(SCORES)]])
    from kbert.recipes import finetune as recipe

    # the Keras-free fast path lists the registry's built-in fine-tunable tasks
    assert sorted(recipe.BUILTIN_TASKS) == [n for n in finetune_tasks()
                                            if registry.task_class(n).__module__.startswith("kbert.")]
    registry.register(FileScorer)
    try:
        assert "toy_file_score" in finetune_tasks()
        config = FinetuneConfig(task="toy_file_score", model="bert_tiny", data=str(data), seq_len=SEQ, batch_size=8,
                                epochs=2, learning_rate=1e-3, warmup=0.0)
        result = finetune(config, tmp_path / "run", say=lambda *_: None, verbose=0)
        assert result["task"] == "toy_file_score" and result["sizes"] == {"train": 32, "validation": 4, "test": 4}
        assert result["test"]["n"] == 4 and np.isfinite(result["test"]["loss"])
        assert "loss" in summary(result)
        loaded = registry.load(tmp_path / "run")  # the model directory holds the toy task model
        assert isinstance(loaded, FileScorer)
        _, _, test = splits(config)  # the saved model is the trained one: same test loss
        mse = float(np.mean((loaded.predict(test.texts, verbose=0)["score"] - test.y) ** 2))
        assert mse == pytest.approx(result["test"]["loss"], rel=1e-4)
        with pytest.raises(kbert.errors.KbertInputError, match="toy_file_score"):
            FinetuneConfig(task="nonexistent").checked()
    finally:
        registry.TASKS.pop(FileScorer.task, None)
