"""The data layer: one container per task (validated) and one parser per real dataset, used by the
recipes, the TFLite gate and the benches."""

import numpy as np
import pytest

from kbert.data import containers, sources
from kbert.errors import KbertInputError


def test_classification_container_names_the_problem():
    ok = containers.ClassificationData(["a", "b"], np.array([0, 1]), ["neg", "pos"])
    assert ok.subset([1]).texts == ["b"]
    with pytest.raises(KbertInputError, match="2 texts but 3 labels"):
        containers.ClassificationData(["a", "b"], np.array([0, 1, 1]), ["neg", "pos"])
    with pytest.raises(KbertInputError, match=r"row 2: label id 2 is not an id of the 2 labels \['neg', 'pos'\]"):
        containers.ClassificationData(["a", "b"], np.array([0, 2]), ["neg", "pos"])
    with pytest.raises(KbertInputError, match="2 first texts but 1 second texts"):
        containers.ClassificationData(["a", "b"], np.array([0, 1]), ["neg", "pos"], texts_b=["c"])
    with pytest.raises(KbertInputError, match=r"one column per label \(3\), got shape \(2, 2\)"):
        containers.ClassificationData(["a", "b"], np.eye(2), ["x", "y", "z"], multi_label=True)


def test_ner_container_names_the_problem():
    with pytest.raises(KbertInputError, match="sentence 2: 1 tokens but 2 tags"):
        containers.NerData([["Ann"], ["Rome"]], [["B-PER"], ["B-LOC", "O"]], ["O", "B-PER", "B-LOC"])
    with pytest.raises(KbertInputError, match=r"sentence 1: tag 'B-ORG' is not in the label set"):
        containers.NerData([["IBM"]], [["B-ORG"]], ["O", "B-PER"])
    with pytest.raises(KbertInputError, match="2 sentences but 1 tag sequences"):
        containers.NerData([["a"], ["b"]], [["O"]], ["O"])
    assert containers.ner_label_order([["I-PER", "O", "B-PER", "B-LOC"]]) == ["O", "B-LOC", "B-PER", "I-PER"]


def test_qa_container_is_a_list_of_squad_dicts():
    ex = {"id": "1", "question": "Who?", "context": "Ann ran.", "answers": {"text": [], "answer_start": []}}
    qa = containers.QaData([ex, dict(ex, id="2", answers={"text": ["Ann"], "answer_start": [0]})])
    assert isinstance(qa, list) and len(qa) == 2 and qa.unanswerable() == 1
    assert isinstance(qa.subset([1]), containers.QaData) and qa.subset([1])[0]["id"] == "2"
    with pytest.raises(KbertInputError, match="example 2 is a tuple"):
        containers.QaData([ex, ("Who?", "Ann ran.")])
    with pytest.raises(KbertInputError, match="question q: answers must be a dict"):
        containers.QaData([dict(ex, id="q", answers=["Ann"])])


def test_real_sets_parse_the_real_files():
    pl = sources.pang_lee_polarity()
    assert len(pl) == 200 and pl.label_names == ["neg", "pos"] and np.bincount(pl.y).tolist() == [100, 100]
    texts, labels = sources.pang_lee_balanced(6)
    assert labels == [0, 1, 0, 1, 0, 1] and texts[0] == pl.texts[0] and texts[1] == pl.texts[100]
    # the file is Windows-1252: read as such its 0x97 bytes are em dashes, as UTF-8 they become U+FFFD
    cp = [t for _, t in sources.pang_lee_rows("cp1252")]
    assert any("\u2014" in t for t in cp) and any("\ufffd" in t for t in pl.texts)
    rows = sources.tweet_rows()
    assert len(rows) == 38158 and rows[0][1] == "negative" and "driverless" in rows[0][0]
    wnut = sources.wnut16()
    assert len(wnut) == 2394 and wnut.label_names[0] == "O" and "B-person" in wnut.label_names
    qa = sources.handwritten_qa()
    assert isinstance(qa, containers.QaData) and len(qa) >= 30 and qa.unanswerable() >= 3
    assert sources.named("classify") == ["pang_lee", "tweets"] and sources.named("qa") == ["handwritten"]
    with pytest.raises(KbertInputError, match="unknown dataset 'imdb'; real sets: handwritten, pang_lee"):
        sources.load("imdb")


def test_gate_recipes_and_card_read_the_same_parsers():
    from kbert.export import accuracy_gate, model_card
    from kbert.recipes import finetune_data

    assert accuracy_gate.sentiment_sentences(4) == sources.pang_lee_balanced(4)
    assert finetune_data.NAMED == {"classify": ["pang_lee", "tweets"], "ner": ["wnut16"], "qa": ["handwritten"]}
    assert set(model_card.DATA_LICENCES) == set(sources.NAMED)
