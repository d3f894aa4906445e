import json

import numpy as np
import pytest

import kbert
from kbert.data import datasets
from kbert.data.tasks import classification_data, classification_dataset, count_truncated, split_words
from kbert.errors import KbertInputError
from kbert.preprocessing import TextPreprocessor

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie"]


def test_classification_labels_checked_by_row():
    d = classification_data(["good", "bad movie"], ["pos", "neg"])
    assert d.label_names == ["neg", "pos"] and d.y.tolist() == [1, 0]
    with pytest.raises(KbertInputError, match=r"row 3: label 'meh' is not in the label set \['neg', 'pos'\]"):
        classification_data(["a", "b", "c"], ["pos", "neg", "meh"], ["neg", "pos"])
    with pytest.raises(KbertInputError, match="row 2: empty text"):
        classification_data(["a", "  ", "c"], ["pos", "neg", "pos"], first_row=1)
    d = classification_data(["a", "", "c", "d"], ["pos", "neg", "meh", 1], ["neg", "pos"], on_error="skip")
    assert d.stats == {"rows": 4, "empty_text": 1, "unknown_label": 1, "kept": 2} and d.y.tolist() == [1, 1]
    m = classification_data(["a", "b"], [["x", "y"], "y"], multi_label=True)
    assert m.y.tolist() == [[1, 1], [0, 1]]


def test_dataset_truncates_long_texts_and_counts_them():
    tok = kbert.tokenizers.wordpiece(VOCAB)
    d = classification_data(["good movie", " ".join(["bad"] * 500)], [1, 0], ["neg", "pos"])
    assert count_truncated(tok, d.texts, 8) == 1
    x, y = next(iter(classification_dataset(d, TextPreprocessor(tok, seq_len=8), batch_size=2)))
    assert x["token_ids"].shape == (2, 8) and y["logits"].numpy().tolist() == [1, 0]
    assert x["token_ids"].numpy()[1].tolist() == [2] + [6] * 6 + [3]
    pairs = classification_data(["good", "bad"], [1, 0], ["neg", "pos"], texts_b=["movie", "movie"])
    x, _ = next(iter(classification_dataset(pairs, TextPreprocessor(tok, seq_len=6), batch_size=2)))
    assert x["segment_ids"].numpy()[0].tolist() == [0, 0, 0, 1, 1, 0]


def test_split_words_offsets():
    assert split_words("Hi, Bob's 2nd!") == [("Hi", 0, 2), (",", 2, 3), ("Bob", 4, 7), ("'", 7, 8), ("s", 8, 9),
                                             ("2nd", 10, 13), ("!", 13, 14)]


def test_csv_jsonl_and_conll_files(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('text,label\n"good, really",pos\nbad,neg\n,pos\n')
    with pytest.raises(KbertInputError, match=r"d.csv: row 4: empty text"):
        datasets.read_csv(p)
    assert len(datasets.read_csv(p, on_error="skip")) == 2
    with pytest.raises(KbertInputError, match=r"column\(s\) \['sentiment'\] not found"):
        datasets.read_csv(p, label_column="sentiment")
    j = tmp_path / "d.jsonl"
    j.write_text('{"text": "good", "label": "pos"}\n\n{"text": "bad", "label": "neg"}\n{oops\n')
    with pytest.raises(KbertInputError, match="line 4 is not valid JSON"):
        datasets.read_jsonl_classification(j)
    c = tmp_path / "d.conll"
    c.write_text("-DOCSTART- O\n\nJohn B-PER\nlives O\n\nRome B-LOC\n")
    n = datasets.read_conll(c)
    assert n.sentences == [["John", "lives"], ["Rome"]] and n.tags == [["B-PER", "O"], ["B-LOC"]]
    assert n.label_names == ["O", "B-LOC", "B-PER"]
    c.write_text("John B-PER\nlives\n\nRome B-LOC\n")
    with pytest.raises(KbertInputError, match=r"d.conll: line 2: expected 2 columns \(token ... tag\), got 1"):
        datasets.read_conll(c)
    assert datasets.read_conll(c, on_error="skip").sentences == [["Rome"]]
    with pytest.raises(KbertInputError, match="line 1: tag 'B-PER' is not in the label set"):
        datasets.read_conll(c, label_names=["O", "B-LOC"])


def test_real_offline_sets():
    tweets = datasets.sentiment_tweets()
    assert tweets.label_names == ["negative", "neutral", "positive"] and len(tweets) > 38000
    assert set(np.unique(tweets.y)) == {0, 1, 2}
    wnut = datasets.wnut16()
    assert len(wnut) == 2394 and "B-person" in wnut.label_names
    assert all(len(s) == len(t) for s, t in zip(wnut.sentences, wnut.tags))
    pl = datasets.pang_lee_polarity()
    assert len(pl) == 200 and np.bincount(pl.y).tolist() == [100, 100]
    tr, va, te = datasets.split(len(tweets), (0.8, 0.1, 0.1), stratify=tweets.y)
    assert len(set(tr) | set(va) | set(te)) == len(tweets) and abs(len(te) - len(tweets) / 10) < 3


@pytest.mark.parametrize("name,split", [("glue/sst2", "train"), ("glue/mnli", "validation_matched"),
                                        ("imdb_reviews", "test"), ("conll2003", "train")])
def test_tfds_loaders_offline(name, split):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        data = datasets.load_tfds(name, split)
    if name == "conll2003":  # mock rows have random, unaligned token/tag lengths: counted skips
        assert len(data) + data.stats["length_mismatch"] == 6
        assert data.label_names[:2] == ["O", "B-PER"]
        assert all(len(s) == len(t) for s, t in zip(data.sentences, data.tags))
    else:
        assert len(data) == 6
        assert data.texts and all(isinstance(t, str) for t in data.texts)
        assert (data.texts_b is not None) == (name == "glue/mnli")


@pytest.mark.parametrize("name", ["squad", "squad/v2.0"])
def test_tfds_squad_offline(name):
    import tensorflow_datasets as tfds

    ctx = "Mary lives in Rome."
    rows = [{"id": "a", "title": "t", "question": "Where?", "context": ctx,
             "answers": {"text": ["Rome"], "answer_start": [14]}},
            {"id": "b", "title": "t", "question": "Who?", "context": ctx,
             "answers": {"text": ["Mary"], "answer_start": [3]}}]  # wrong offset

    def as_dataset(self, split, **kwargs):
        import tensorflow as tf

        return tf.data.Dataset.from_generator(lambda: iter([
            {**r, "answers": {"text": np.array(r["answers"]["text"], object),
                              "answer_start": np.array(r["answers"]["answer_start"], "int32")}} for r in rows]),
            output_signature={"id": tf.TensorSpec((), tf.string), "title": tf.TensorSpec((), tf.string),
                              "question": tf.TensorSpec((), tf.string), "context": tf.TensorSpec((), tf.string),
                              "answers": {"text": tf.TensorSpec((None,), tf.string),
                                          "answer_start": tf.TensorSpec((None,), tf.int32)}})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        ex = datasets.load_tfds(name, "validation")
    assert [e["id"] for e in ex] == ["a", "b"] and ex[0]["answers"]["text"] == ["Rome"]
    tok = kbert.tokenizers.wordpiece(VOCAB + ["mary", "lives", "in", "rome", "where", "who"])
    from kbert.data.tasks import qa_features

    with pytest.raises(KbertInputError, match="question b"):
        qa_features(tok, ex, seq_len=16, max_query_len=4)
    assert qa_features(tok, ex, seq_len=16, max_query_len=4, on_error="skip")["stats"]["bad_examples"] == 1


def test_squad_json_reader(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "Mary sings.", "qas": [
        {"id": "1", "question": "Who sings?", "answers": [{"text": "Mary", "answer_start": 0}]},
        {"id": "2", "question": "Who dances?", "answers": [], "is_impossible": True}]}]}]}))
    ex = datasets.read_squad(p)
    assert ex[1]["answers"] == {"text": [], "answer_start": []}
    p.write_text("[]")
    with pytest.raises(KbertInputError, match="not SQuAD format"):
        datasets.read_squad(p)
