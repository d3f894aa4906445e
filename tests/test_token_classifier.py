import numpy as np
import pytest

import kbert
from kbert.data.tasks import ner_features
from kbert.errors import KbertInputError
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.tasks.token_classifier import build_token_classifier, compile_token_classifier, word_predictions

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
