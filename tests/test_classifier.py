import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.preprocessing import TextPreprocessor, preprocessor_for
from kbert.tasks.classifier import build_classifier, compile_classifier, predict_labels

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "great", "bad", "awful", "movie", "the", "is"]


def _tok(family="bert"):
    return kbert.tokenizers.wordpiece(VOCAB, family=family)


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    pos, neg = ["good", "great"], ["bad", "awful"]
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(0, 2))
        w = rng.choice(pos if y else neg)
        texts.append(f"the movie is {w}")
        labels.append(y)
    return texts, np.array(labels)


@pytest.mark.parametrize("preset", ["bert_tiny", "distilbert_tiny", "albert_tiny"])
def test_learns_a_separable_task_and_round_trips(tmp_path, preset):
    import keras

    keras.utils.set_random_seed(0)
    family = kbert.presets.get_preset(preset).family
    enc = kbert.models.backbone(preset, vocabulary_size=len(VOCAB))
    tok = _tok(family)
    pre = preprocessor_for(tok, family, seq_len=8)
    texts, y = _data()
    x = {k: v.numpy() for k, v in pre(texts).items()}
    assert ("segment_ids" in x) == (family != "distilbert")
    model = compile_classifier(build_classifier(enc, 2, dropout=0.0),
                               learning_rate=2e-4 if family == "albert" else 1e-3)
    hist = model.fit(x, {"logits": y}, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    logits = model.predict(x, verbose=0)["logits"]
    assert (predict_labels(logits) == y).mean() == 1.0
    # (a WordPiece vocabulary with an ALBERT encoder is test-only; model dirs expect spiece.model there)
    save_model_dir(tmp_path / "clf", model, None if family == "albert" else tok, task="classify", seq_len=8, labels=["neg", "pos"],
                   pair=False, multi_label=False)
    md = load_model_dir(tmp_path / "clf")
    np.testing.assert_allclose(md.model(x)["logits"], logits, atol=1e-5)
    assert md.labels == ["neg", "pos"]


def test_sentence_pairs_use_segment_ids():
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB))
    model = build_classifier(enc, 3)
    pre = TextPreprocessor(_tok(), seq_len=10)
    x = pre((["the movie", "good"], ["is good", "bad"]))
    assert x["segment_ids"].numpy()[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert model(x)["logits"].shape == (2, 3)


def test_multi_label_trains_with_bce():
    import keras

    keras.utils.set_random_seed(1)
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB))
    model = compile_classifier(build_classifier(enc, 2, multi_label=True, dropout=0.0, pooling="mean"),
                               learning_rate=1e-3)
    # label 0: mentions "good"/"great"; label 1: mentions "movie" (independent)
    words = [["good", "movie"], ["bad", "movie"], ["great"], ["awful"], ["the", "good"], ["is", "bad"]]
    texts = [" ".join(w) for w in words] * 4
    y = np.array([[w[0] in ("good", "great") or "good" in w, "movie" in w] for w in words] * 4, "float32")
    pre = TextPreprocessor(_tok(), seq_len=6)
    x = {k: v.numpy() for k, v in pre(texts).items()}
    model.fit(x, {"logits": y}, epochs=30, batch_size=8, verbose=0)
    pred = predict_labels(model.predict(x, verbose=0)["logits"], multi_label=True)
    got = np.zeros_like(y)
    for i, r in enumerate(pred):
        got[i, r] = 1
    assert (got == y).mean() >= 0.9


def test_bad_arguments():
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB))
    with pytest.raises(KbertInputError, match="num_classes"):
        build_classifier(enc, 1)
    with pytest.raises(KbertInputError, match="pooling"):
        build_classifier(enc, 2, pooling="max")
