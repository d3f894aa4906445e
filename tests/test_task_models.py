"""kbert's Keras-native task models: raw text in fit/predict, settings that survive save/load, presets."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "great", "bad", "awful", "movie", "the", "is",
         "ada", "wrote", "in", "london", "who", "it", "was", "by", "?", "."]
TEXTS = ["the movie is good", "the movie is bad", "great", "awful", "good movie", "bad movie"] * 4
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"] * 4


def _pre(seq_len=8, family="bert"):
    from kbert.preprocessing import preprocessor_for

    return preprocessor_for(kbert.tokenizers.wordpiece(VOCAB, family=family), family, seq_len)


def _backbone(preset="bert_tiny"):
    return kbert.models.backbone(preset, vocabulary_size=len(VOCAB))


def _load(path):
    import keras

    return keras.saving.load_model(path, safe_mode=True)


def test_import_kbert_stays_tensorflow_free():
    code = ("import sys, kbert; assert 'TextClassifier' in kbert.__all__; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_classifier_learns_from_strings_and_round_trips_its_settings(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    clf = kbert.TextClassifier(_backbone(), labels=["neg", "pos"], preprocessor=_pre(), pooling="mean", dropout=0.0)
    clf.compile(learning_rate=1e-3)
    hist = clf.fit(TEXTS, LABELS, epochs=6, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert clf.predict(["the movie is good", "awful"], decode=True, verbose=0) == ["pos", "neg"]
    loss, acc = clf.evaluate(TEXTS, LABELS, verbose=0)
    assert acc == 1.0
    path = clf.save(tmp_path / "clf.keras")
    assert sorted(os.listdir(tmp_path)) == ["clf.keras"]  # atomic write: no temp file left
    from kbert.atomic import umask

    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask()  # the user's umask, not the temp file's 0600
    back = _load(path)
    assert isinstance(back, kbert.TextClassifier)
    assert (back.labels, back.pooling, back.multi_label, back.seq_len, back.family) == (["neg", "pos"], "mean", False,
                                                                                         8, "bert")
    np.testing.assert_allclose(back.predict(TEXTS, verbose=0)["logits"], clf.predict(TEXTS, verbose=0)["logits"],
                               atol=1e-5)
    assert back.optimizer.iterations.numpy() == clf.optimizer.iterations.numpy()  # optimizer state restored
    # what the exporters read, from the file alone (no kbert.json)
    from kbert.model_dir import load_model_dir, read_meta

    meta = read_meta(path)
    assert (meta["task"], meta["labels"], meta["pooling"], meta["seq_len"]) == ("classify", ["neg", "pos"], "mean", 8)
    md = load_model_dir(path)
    assert md.task == "classify" and md.labels == ["neg", "pos"] and md.seq_len == 8
    assert md.tokenizer.get_vocabulary() == VOCAB


def test_in_memory_classifier_exports_at_its_trained_length_with_its_labels(tmp_path):
    """`tflite.export(clf, ...)` on a task model object reads its settings from the model, as from its file."""
    from kbert.export import tflite

    clf = kbert.TextClassifier(_backbone(), labels=["neg", "pos"], preprocessor=_pre(seq_len=12), dropout=0.0)
    tflite.export(clf, str(tmp_path / "clf.tflite"), heldout=TEXTS[:4], force=True, deployment=False)
    card = json.loads((tmp_path / "clf.json").read_text())
    assert card["trained_seq_len"] == 12 and card["labels"] == ["neg", "pos"] and card["task"] == "classify"
    # the held-out texts are short: the file runs at their p99 length, chosen below the trained 12
    assert card["seq_len"] == card["data_length"]["rounded"] < 12


def test_classifier_labels_are_checked():
    clf = kbert.TextClassifier(_backbone(), labels=["neg", "pos"], preprocessor=_pre())
    with pytest.raises(KbertInputError, match="'meh' is not in the label set"):
        clf.fit(["good"], ["meh"], verbose=0)
    with pytest.raises(KbertInputError, match=r"class ids in \[0, 2\)"):
        clf.fit(["good", "bad"], np.array([0, 2]), verbose=0)
    with pytest.raises(KbertInputError, match="3 labels"):
        kbert.TextClassifier(_backbone(), labels=["a", "b", "c"], num_classes=2)
    tensors_only = kbert.TextClassifier(_backbone(), num_classes=2)
    with pytest.raises(KbertInputError, match="no preprocessor"):
        tensors_only.predict(["good"])


def test_multi_label_and_pairs_survive_saving(tmp_path):
    clf = kbert.TextClassifier(_backbone("distilbert_tiny"), labels=["a", "b", "c"], multi_label=True,
                               preprocessor=_pre(10, "distilbert"), pooling="cls")
    clf.fit((["good", "bad"], ["movie", "the movie"]), [["a", "c"], "b"], epochs=1, verbose=0)
    assert clf.pair  # fit saw pairs
    out = clf.predict((["good"], ["movie"]), decode=True, verbose=0)
    assert isinstance(out[0], list) and set(out[0]) <= {"a", "b", "c"}
    back = _load(clf.save(tmp_path / "ml.keras"))
    assert (back.multi_label, back.pair, back.pooling, back.family) == (True, True, "cls", "distilbert")
    assert "segment_ids" not in back.input
    assert back.predict((["good"], ["movie"]), decode=True, verbose=0) == out


def test_token_classifier_entities_and_round_trip(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    ner = kbert.TokenClassifier(_backbone(), labels=["O", "B-PER", "B-LOC"], preprocessor=_pre(12), dropout=0.0)
    ner.compile(learning_rate=2e-3)
    words = [["ada", "wrote", "in", "london"], ["ada", "was", "in", "london"], ["the", "movie", "is", "good"]] * 4
    tags = [["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"], ["O", "O", "O", "O"]] * 4
    ner.fit(words, tags, epochs=15, batch_size=4, verbose=0)
    ents = ner.predict(["Ada wrote in London."], decode=True, verbose=0)[0]
    assert ents == [{"entity": "PER", "text": "Ada", "start": 0, "end": 3, "words": [0, 1]},
                    {"entity": "LOC", "text": "London", "start": 13, "end": 19, "words": [3, 4]}]
    assert ner.predict_tags([["ada", "wrote"]], verbose=0) == [["B-PER", "O"]]
    back = _load(ner.save(tmp_path / "ner.keras"))
    assert isinstance(back, kbert.TokenClassifier) and back.labels == ["O", "B-PER", "B-LOC"]
    assert back.predict(["Ada wrote in London."], decode=True, verbose=0)[0] == ents


def test_question_answerer_answers_and_round_trips(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    qa = kbert.QuestionAnswerer(_backbone(), preprocessor=_pre(16), doc_stride=4, max_query_len=6, dropout=0.0)
    qa.compile(learning_rate=3e-3)
    q = ["who wrote it ?", "who was in london ?"] * 6
    c = ["it was wrote by ada .", "ada was in london ."] * 6
    qa.fit((q, c), ["ada", "ada"] * 6, epochs=20, batch_size=4, verbose=0)
    answers = qa.predict((q[:2], c[:2]), decode=True, verbose=0)
    assert [a["text"] for a in answers] == ["ada", "ada"]
    assert answers[0]["start"] == c[0].index("ada")
    back = _load(qa.save(tmp_path / "qa.keras"))
    assert (back.doc_stride, back.max_query_len, back.seq_len) == (4, 6, 16)
    assert [a["text"] for a in back.predict((q[:2], c[:2]), decode=True, verbose=0)] == ["ada", "ada"]
    with pytest.raises(KbertInputError, match="does not occur in its context"):
        qa.fit((["who ?"], ["ada ."]), ["london"], verbose=0)


def test_embedder_gives_unit_vectors_and_matches_build_embedder():
    from kbert.tasks.embedder import build_embedder

    enc = _backbone()
    emb = kbert.TextEmbedder(enc, preprocessor=_pre())
    vectors = emb.predict(["good movie", "bad"], decode=True, verbose=0)
    assert vectors.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)
    x = emb.tokenize(["good movie", "bad"])
    np.testing.assert_allclose(build_embedder(enc)(x)["embeddings"], vectors, atol=1e-6)


def test_from_preset_names_files_and_old_model_directories(tmp_path):
    from kbert.model_dir import load_model_dir, save_model_dir
    from kbert.tasks.classifier import build_classifier

    clf = kbert.TextClassifier.from_preset("bert_tiny", num_classes=3, seq_len=16)
    assert clf.family == "bert" and clf.seq_len == 16 and clf.tokenizer.vocabulary_size() == 30522
    assert clf.predict(["what a lovely day"], decode=True, verbose=0)[0] in ("label_0", "label_1", "label_2")
    path = clf.save(tmp_path / "c.keras")
    same = kbert.TextClassifier.from_preset(path)
    np.testing.assert_allclose(same.predict(["hi"], verbose=0)["logits"], clf.predict(["hi"], verbose=0)["logits"],
                               atol=1e-5)
    ner = kbert.TokenClassifier.from_preset(path, labels=["O", "B-X"])  # another task: its encoder only
    np.testing.assert_allclose(ner.backbone.get_weights()[0], clf.backbone.get_weights()[0])
    with pytest.raises(KbertInputError, match="no such file or folder"):
        kbert.TextClassifier.from_preset(str(tmp_path / "missing.keras"), num_classes=2)
    with pytest.raises(KbertInputError, match="unknown preset"):
        kbert.TextClassifier.from_preset("bert_tinyy", num_classes=2)

    # a model directory written before the task classes: converted with its trained head and labels
    enc = _backbone()
    old = build_classifier(enc, 2, pooling="mean")
    save_model_dir(tmp_path / "old", old, kbert.tokenizers.wordpiece(VOCAB), task="classify", seq_len=8,
                   labels=["neg", "pos"], multi_label=False)
    assert load_model_dir(tmp_path / "old").model.name == "classifier"  # still loads as it is
    conv = kbert.load(tmp_path / "old")
    assert isinstance(conv, kbert.TextClassifier)
    assert (conv.labels, conv.pooling, conv.seq_len) == (["neg", "pos"], "mean", 8)
    x = conv.tokenize(TEXTS[:4])
    np.testing.assert_allclose(conv.predict(x, verbose=0)["logits"], old.predict(x, verbose=0)["logits"], atol=1e-5)


def test_minilm_preset_has_real_weights():
    from kbert.checkpoints.hf import load_hf

    emb = kbert.TextEmbedder.from_preset("minilm", seq_len=16)
    ref = load_hf(kbert.assets.minilm_dir()).backbone
    np.testing.assert_allclose(emb.backbone.get_weights()[0], ref.get_weights()[0])
    a, b, c = emb.predict(["A cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell."],
                          decode=True, verbose=0)
    assert a @ b > a @ c  # real sentence embeddings


def test_registry_maps_task_names_to_classes_and_takes_new_tasks():
    import keras

    from kbert.tasks import registry
    from kbert.tasks.task_model import TaskModel, encoder_inputs

    assert registry.names() == ["classify", "embed", "ner", "qa"]
    assert registry.task_class("qa") is kbert.QuestionAnswerer
    with pytest.raises(KbertInputError, match="unknown task"):
        registry.task_class("summarize")

    @keras.saving.register_keras_serializable(package="kbert_test")
    class LengthRegressor(TaskModel):
        task = "toy_length"

        def __init__(self, backbone, preprocessor=None, **kwargs):
            inputs = encoder_inputs(backbone)
            pooled = backbone(inputs)["pooled_output"]
            self._init_task(backbone, preprocessor, inputs, {"length": keras.layers.Dense(1, name="length")(pooled)},
                            **kwargs)
            self.compile()

        def default_loss(self):
            return {"length": "mse"}

    try:
        registry.register(LengthRegressor)
        assert registry.task_class("toy_length") is LengthRegressor
        model = LengthRegressor(_backbone(), preprocessor=_pre())
        assert registry.task_of(model) == "toy_length"
        texts = ["good", "the movie is good", "bad movie"]
        model.fit(texts, {"length": np.array([1.0, 4.0, 2.0])}, verbose=0)
        assert model.export_meta()["task"] == "toy_length"
        with pytest.raises(KbertInputError, match="already registered"):
            registry.register(type("Other", (LengthRegressor,), {}))
    finally:
        registry.TASKS.pop("toy_length", None)


@pytest.mark.slow
def test_saved_classifier_exports_to_tflite_and_serving_without_kbert_json(tmp_path):
    import tensorflow as tf

    from kbert.cli import main

    clf = kbert.TextClassifier.from_preset("bert_tiny", labels=["neg", "pos"], seq_len=16, pooling="mean")
    path = str(clf.save(tmp_path / "clf.keras"))
    assert main(["export", "tflite", "--model", path, "--out", str(tmp_path / "clf.tflite"), "--quiet",
                 "--max-drop", "100"]) == 0
    card = json.loads((tmp_path / "clf.json").read_text())
    assert card["task"] == "classify" and card["labels"] == ["neg", "pos"]
    assert main(["export", "serving", "--model", path, "--out", str(tmp_path / "serving"), "--quiet"]) == 0
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    served = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["serving_default"]
    out = served(text=tf.constant(["what a lovely day"]))
    keras_probs = tf.nn.softmax(clf.predict(["what a lovely day"], verbose=0)["logits"]).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), keras_probs, atol=1e-5)
    assert out["labels"].numpy()[0].decode() == clf.predict(["what a lovely day"], decode=True, verbose=0)[0]


def test_unused_pooler_is_frozen_so_training_does_not_warn():
    """Heads that do not read the pooled output (NER, QA, mean/cls pooling) freeze BERT's pooler, as HF builds
    them without one: fit prints no "Gradients do not exist" warning; a pooled classifier trains it again."""
    import warnings

    import kbert
    from kbert.preprocessing import TextPreprocessor

    tok = kbert.tokenizers.wordpiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"])
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=8, max_sequence_length=16)
    pre = TextPreprocessor(tok, seq_len=8)
    pooler = enc.get_layer("pooled_dense")
    clf = kbert.TextClassifier(enc, labels=["neg", "pos"], pooling="mean", preprocessor=pre)
    assert not pooler.trainable and not any("pooled_dense" in v.path for v in clf.trainable_variables)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(["good film", "bad film"], ["pos", "neg"], epochs=1, verbose=0)
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    pooled = kbert.TextClassifier(enc, labels=["neg", "pos"], pooling="pooled", preprocessor=pre)
    assert pooler.trainable and any("pooled_dense" in v.path for v in pooled.trainable_variables)
    assert not kbert.TokenClassifier(enc, labels=["O", "B-X"], preprocessor=pre).get_layer(enc.name) \
        .get_layer("pooled_dense").trainable
