"""kbert models saved as .keras reload (safe_mode) with identical outputs; model dirs round-trip."""

import numpy as np
import pytest

import keras
import kbert
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.tasks.embedder import build_embedder
from kbert.errors import KbertInputError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]


@pytest.mark.parametrize("name", ["bert_tiny", "distilbert_tiny", "albert_tiny"])
def test_keras_file_round_trip(tmp_path, name):
    model = kbert.models.backbone(name, vocabulary_size=100, hidden_activation="gelu_new") if name != "distilbert_tiny" \
        else kbert.models.backbone(name, vocabulary_size=100)
    inputs = kbert.models.dummy_inputs(model, 2, 10)
    before = kbert.models.sequence_output(model(inputs)).numpy()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    after = kbert.models.sequence_output(loaded(inputs)).numpy()
    np.testing.assert_array_equal(before, after)


def test_gelu_choice_survives_saving(tmp_path):
    exact = kbert.models.backbone("bert_tiny", vocabulary_size=100)
    approx = kbert.models.backbone("bert_tiny", vocabulary_size=100, hidden_activation="gelu_new")
    approx.set_weights(exact.get_weights())
    inputs = kbert.models.dummy_inputs(exact, 2, 10)
    a = exact(inputs)["sequence_output"].numpy()
    b = approx(inputs)["sequence_output"].numpy()
    assert np.abs(a - b).max() > 1e-6  # the two GELU forms really differ
    exact.save(tmp_path / "e.keras")
    again = keras.saving.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(again(inputs)["sequence_output"].numpy(), a)


def test_model_dir_round_trip(tmp_path):
    encoder = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB))
    tok = kbert.tokenizers.wordpiece(VOCAB)
    model = build_embedder(encoder)
    inputs = kbert.models.dummy_inputs(encoder, 2, 8)
    path = save_model_dir(tmp_path / "emb", model, tok, task="embed", seq_len=8, note="hi")
    md = load_model_dir(path)
    assert md.meta["family"] == "bert" and md.meta["note"] == "hi" and md.seq_len == 8
    np.testing.assert_allclose(md.model(inputs)["embeddings"], model(inputs)["embeddings"], atol=0)
    assert md.tokenizer.get_vocabulary() == VOCAB
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_model_dir_errors(tmp_path):
    with pytest.raises(KbertInputError, match="kbert.json is missing"):
        load_model_dir(tmp_path)
    (tmp_path / "kbert.json").write_text("{not json")
    with pytest.raises(KbertInputError, match="not valid JSON"):
        load_model_dir(tmp_path)
    (tmp_path / "kbert.json").write_text('{"task": "embed", "seq_len": 8}')
    with pytest.raises(KbertInputError, match="model.keras is missing"):
        load_model_dir(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(KbertInputError, match="could not be loaded"):
        load_model_dir(tmp_path)


def test_publish_dir_puts_the_old_directory_back_when_the_swap_fails(tmp_path, monkeypatch):
    import os

    from kbert import atomic

    target, tmp = tmp_path / "model", tmp_path / ".tmp-model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    tmp.mkdir()
    (tmp / "new.txt").write_text("new")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the rename of the new copy into place
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(OSError, match="disk gone"):
        atomic.publish_dir(str(tmp), str(target))
    assert (target / "old.txt").read_text() == "old"
    monkeypatch.undo()
    atomic.publish_dir(str(tmp), str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"] and (target / "new.txt").exists()
