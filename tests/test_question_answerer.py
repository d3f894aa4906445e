import os

import numpy as np
import pytest

import kbert
from kbert.data import datasets
from kbert.data.tasks import model_inputs, qa_features, split_words
from kbert.errors import KbertInputError
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.tasks import metrics
from kbert.tokenizers import WORDPIECE_SPECIALS
from kbert.tasks.question_answerer import build_question_answerer, compile_question_answerer, postprocess

HANDWRITTEN = os.path.join(os.path.dirname(kbert.__file__), "data", "qa", "handwritten_qa.json")


@pytest.fixture(scope="module")
def tok():
    return kbert.tokenizers.wordpiece(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"))


def test_handwritten_set_is_valid_squad():
    ex = datasets.read_squad(HANDWRITTEN)
    assert len(ex) >= 30
    assert sum(not e["answers"]["text"] for e in ex) >= 3  # some unanswerable (SQuAD v2)
    for e in ex:
        for t, s in zip(e["answers"]["text"], e["answers"]["answer_start"]):
            assert e["context"][s:s + len(t)] == t


def test_windows_keep_offsets_and_answer_positions(tok):
    ctx = "The Eiffel Tower is in Paris, France. " * 12 + "It was finished in 1889."
    ex = [{"id": "q1", "question": "When was it finished?", "context": ctx,
           "answers": {"text": ["1889"], "answer_start": [ctx.index("1889")]}}]
    f = qa_features(tok, ex, seq_len=48, doc_stride=16, max_query_len=12)
    n = len(f["token_ids"])
    assert n > 3 and f["stats"]["long_contexts"] == 1
    assert (f["example_index"] == 0).all()
    hits = np.nonzero(f["start_positions"])[0]
    assert len(hits) >= 1  # answer inside at least the last window
    for i in hits:
        s, e = f["start_positions"][i], f["end_positions"][i]
        assert ctx[f["offsets"][i][s][0]:f["offsets"][i][e][1]] == "1889"
        assert f["segment_ids"][i][s] == 1
    # windows without the answer point at [CLS]
    assert (f["start_positions"][[i for i in range(n) if i not in hits]] == 0).all()
    # every context token appears in some window, consecutive windows overlap
    covered = {tuple(o) for w in f["offsets"] for o in w if o[0] >= 0}
    assert len(covered) == len({(s, e) for s, e in [tuple(o) for w in f["offsets"] for o in w] if s >= 0})


def test_postprocess_best_valid_span_and_no_answer(tok):
    ctx = "Mary lives in Rome with John."
    ex = [{"id": "a", "question": "Where does Mary live?", "context": ctx,
           "answers": {"text": ["Rome"], "answer_start": [14]}}]
    f = qa_features(tok, ex, seq_len=32, doc_stride=8, max_query_len=8)
    L = f["token_ids"].shape[1]
    rome = f["start_positions"][0]
    start, end = np.full((1, L), -5.0), np.full((1, L), -5.0)
    start[0, rome] = end[0, rome] = 3.0
    start[0, rome + 2] = 9.0  # best start but only with an earlier end -> invalid
    out = postprocess(f, start, end, [ctx])
    assert out[0]["text"] == "Rome"
    # max_answer_len: a long span is refused
    end2 = end.copy()
    end2[0, rome] = -5
    end2[0, rome + 3] = 8.0
    assert postprocess(f, start, end2, [ctx], max_answer_len=2)[0]["text"] != ctx[14:]
    # the null score ([CLS]) wins in v2 mode only
    start[0, 0] = end[0, 0] = 20.0
    assert postprocess(f, start, end, [ctx], allow_no_answer=True)[0]["text"] == ""
    assert postprocess(f, start, end, [ctx])[0]["text"] == "Rome"


def test_bad_answers_are_named_or_counted(tok):
    good = {"id": "ok", "question": "Who?", "context": "Mary sings.", "answers": {"text": ["Mary"], "answer_start": [0]}}
    bad = {"id": "q7", "question": "Who?", "context": "Mary sings.", "answers": {"text": ["Mary"], "answer_start": [3]}}
    with pytest.raises(KbertInputError, match="question q7: answer 'Mary' is not in its context at character 3"):
        qa_features(tok, [good, bad], seq_len=32, max_query_len=8)
    missing = dict(bad, id="q8", answers={"text": ["John"], "answer_start": [0]})
    f = qa_features(tok, [good, bad, missing], seq_len=32, max_query_len=8, on_error="skip")
    assert f["stats"]["bad_examples"] == 2 and len(f["examples"]) == 1


@pytest.mark.parametrize("preset", ["bert_tiny", pytest.param("distilbert_tiny", marks=pytest.mark.slow)])
def test_learns_the_handwritten_set(tmp_path, preset):
    import keras

    keras.utils.set_random_seed(0)
    family = kbert.presets.get_preset(preset).family
    ex = datasets.read_squad(HANDWRITTEN)
    # a vocabulary of the set's own words keeps the embedding (and the test) small
    words = {w.lower() for e in ex for k in ("question", "context") for w, _, _ in split_words(e[k])}
    tok = kbert.tokenizers.wordpiece(list(WORDPIECE_SPECIALS) + sorted(words - set(WORDPIECE_SPECIALS)))
    f = qa_features(tok, ex, seq_len=96, doc_stride=48, max_query_len=24, segments=family != "distilbert")
    x = model_inputs(f)
    enc = kbert.models.backbone(preset, vocabulary_size=tok.vocabulary_size())
    model = compile_question_answerer(build_question_answerer(enc, dropout=0.0), learning_rate=1e-3)
    model.fit(x, {"start_logits": f["start_positions"], "end_logits": f["end_positions"]},
              epochs=40, batch_size=16, verbose=0)
    out = model.predict(x, verbose=0)
    preds = postprocess(f, out["start_logits"], out["end_logits"], [e["context"] for e in f["examples"]],
                        allow_no_answer=True)
    scores = metrics.squad_scores([p["text"] for p in preds], [e["answers"]["text"] for e in f["examples"]])
    assert scores["f1"] > 70  # memorises its training set: features, windows and post-processing agree
    save_model_dir(tmp_path / "qa", model, tok, task="qa", seq_len=96)
    md = load_model_dir(tmp_path / "qa")
    again = md.model(x)
    np.testing.assert_allclose(again["start_logits"], out["start_logits"], atol=1e-3)
