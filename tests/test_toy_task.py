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
