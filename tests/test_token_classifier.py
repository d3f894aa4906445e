import numpy as np
import pytest

import kbert
from kbert.data.tasks import ner_features
from kbert.errors import KbertInputError
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.tasks.token_classifier import (IGNORE, TokenCrossentropy, build_token_classifier, compile_token_classifier,
                                         word_predictions)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "john", "mary", "lives", "in", "paris", "rome",
         "and", "works", "##ville", "new", "york"]
LABELS = ["O", "B-PER", "B-LOC", "I-LOC"]


def _data():
    sents, tags = [], []
    for name in ["John", "Mary"]:
        for city, ctags in [(["Paris"], ["B-LOC"]), (["Rome"], ["B-LOC"]), (["New", "York"], ["B-LOC", "I-LOC"]),
                            (["Parisville"], ["B-LOC"])]:
            sents.append([name, "lives", "in"] + city)
            tags.append(["B-PER", "O", "O"] + ctags)
            sents.append(["In"] + city + [name, "works"])
            tags.append(["O"] + ctags + ["B-PER", "O"])
    return sents, tags


def test_first_piece_labelled_others_ignored():
    tok = kbert.tokenizers.wordpiece(VOCAB)
    f = ner_features(tok, [["Mary", "Parisville"]], [["B-PER", "B-LOC"]], LABELS, seq_len=7)
    ids = f["token_ids"][0].tolist()
    assert ids == [2, 6, 9, 13, 3, 0, 0]
    assert f["labels"][0].tolist() == [-100, 1, 2, -100, -100, -100, -100]
    assert f["word_index"][0].tolist() == [-1, 0, 1, -1, -1, -1, -1]


@pytest.mark.parametrize("preset", ["bert_tiny", "distilbert_tiny"])
def test_learns_tags_and_maps_back_to_words(tmp_path, preset):
    import keras

    keras.utils.set_random_seed(0)
    family = kbert.presets.get_preset(preset).family
    tok = kbert.tokenizers.wordpiece(VOCAB, family=family)
    sents, tags = _data()
    f = ner_features(tok, sents, tags, LABELS, seq_len=10, segments=family != "distilbert")
    x = {k: f[k] for k in ("token_ids", "padding_mask", "segment_ids") if k in f}
    enc = kbert.models.backbone(preset, vocabulary_size=len(VOCAB))
    model = compile_token_classifier(build_token_classifier(enc, len(LABELS), dropout=0.0), learning_rate=2e-3)
    h = model.fit(x, {"logits": f["labels"]}, epochs=25, batch_size=8, verbose=0)
    assert h.history["accuracy"][-1] > 0.95
    logits = model.predict(x, verbose=0)["logits"]
    words = word_predictions(logits, f["word_index"], f["num_words"], labels=LABELS)
    assert [len(w) for w in words] == [len(s) for s in sents]
    assert np.mean([p == t for ws, ts in zip(words, tags) for p, t in zip(ws, ts)]) > 0.95
    save_model_dir(tmp_path / "ner", model, tok, task="ner", seq_len=10, labels=LABELS)
    md = load_model_dir(tmp_path / "ner")
    np.testing.assert_allclose(md.model(x)["logits"], logits, atol=1e-4)


def test_truncated_words_get_default_and_bad_rows():
    tok = kbert.tokenizers.wordpiece(VOCAB)
    f = ner_features(tok, [["john"] * 20], [["B-PER"] * 20], LABELS, seq_len=8)
    assert f["stats"]["truncated"] == 1
    logits = np.zeros((1, 8, 4))
    logits[..., 1] = 1
    assert word_predictions(logits, f["word_index"], f["num_words"], LABELS)[0] == ["B-PER"] * 6 + ["O"] * 14
    with pytest.raises(KbertInputError, match="sentence 2: 2 tokens but 1 tags"):
        ner_features(tok, [["john"], ["john", "lives"]], [["B-PER"], ["B-PER"]], LABELS)
    with pytest.raises(KbertInputError, match="sentence 1: tag 'B-ORG'"):
        ner_features(tok, [["john"]], [["B-ORG"]], LABELS)
    f = ner_features(tok, [["john"], ["john", "x"], []], [["B-PER"], ["B-PER"], []], LABELS, on_error="skip")
    assert f["stats"]["length_mismatch"] == 1 and f["stats"]["empty"] == 1 and f["rows"] == [1]


def test_o_weight_loss_matches_plain_and_hand_computed():
    import keras

    rng = np.random.default_rng(0)
    y = np.array([[0, 1, 2, IGNORE], [0, 0, IGNORE, IGNORE], [3, 0, 1, 0]])
    logits = rng.normal(size=(3, 4, 4)).astype("float32")
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE)(y, logits)
    np.testing.assert_allclose(float(TokenCrossentropy(1.0)(y, logits)), float(plain), rtol=1e-5)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    keep = y != IGNORE
    ce = -np.take_along_axis(logp, np.where(keep, y, 0)[..., None], -1)[..., 0]
    w = np.where(y == 0, 0.2, 1.0) * keep
    np.testing.assert_allclose(float(TokenCrossentropy(0.2)(y, logits)), (ce * w).sum() / keep.sum(), rtol=1e-5)
    with pytest.raises(KbertInputError, match="o_weight"):
        TokenCrossentropy(0.0)
    with pytest.raises(KbertInputError, match="o_weight"):
        compile_token_classifier(build_token_classifier(kbert.models.backbone("bert_tiny", vocabulary_size=16), 3),
                                 o_weight=1.5)


def test_o_weight_shifts_the_fitted_tag_distribution():
    """A label-prior-only model fitted with o_weight=w converges to P(O) = w*nO / (w*nO + n_entity)."""
    import keras

    keras.utils.set_random_seed(0)
    y = np.array([[0] * 9 + [1, IGNORE]] * 8)  # 90% "O" among labelled positions
    ids = keras.Input((11,), dtype="int32")
    logits = keras.layers.Embedding(1, 2, embeddings_initializer="zeros")(keras.ops.zeros_like(ids))
    for w in (1.0, 0.2):
        model = keras.Model(ids, logits)
        model.compile(keras.optimizers.Adam(0.1), TokenCrossentropy(w))
        model.fit(np.zeros((8, 11), "int32"), y, epochs=150, batch_size=8, verbose=0)
        p_o = float(keras.ops.softmax(model.predict(np.zeros((1, 11), "int32"), verbose=0)[0, 0])[0])
        assert abs(p_o - 9 * w / (9 * w + 1)) < 0.02, (w, p_o)
        model.layers[-1].embeddings.assign(np.zeros((1, 2)))


def test_finetune_pipeline_passes_o_weight(tmp_path):
    from kbert.recipes.finetune import FinetuneConfig, compile_model

    enc = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB))
    model = compile_model(FinetuneConfig(task="ner", o_weight=0.3),
                          kbert.TokenClassifier(enc, labels=LABELS[:3], o_weight=0.3), steps=10)
    loss = model.loss["logits"]
    assert isinstance(loss, TokenCrossentropy) and loss.o_weight == 0.3
    tok = kbert.tokenizers.wordpiece(VOCAB)
    save_model_dir(tmp_path / "ner", model, tok, task="ner", seq_len=8, labels=LABELS[:3])
    md = load_model_dir(tmp_path / "ner")
    assert md.meta["labels"] == LABELS[:3]
