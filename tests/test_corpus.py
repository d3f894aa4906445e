import itertools
import logging

import pytest

from kbert.data import corpus
from kbert.errors import KbertInputError


def test_bundled_corpus_is_small_public_domain_and_chaptered():
    import os

    path = corpus.bundled()
    assert os.path.getsize(path) <= 5_000_000
    assert "public domain" in open(os.path.join(os.path.dirname(path), "LICENSE.md")).read().lower()
    docs = list(itertools.islice(corpus.bundled_documents(), 3))
    assert len(docs) == 3 and all(len(d) > 1000 for d in docs)
    assert docs[0].startswith("The family of Dashwood")


def test_files_folders_blank_line_documents(tmp_path):
    (tmp_path / "a.txt").write_text("doc one line one\nline two\n\n\ndoc two\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("doc three")
    c = corpus.open_corpus(str(tmp_path))
    assert list(c) == ["doc one line one line two", "doc two", "doc three"]
    assert list(c) == ["doc one line one line two", "doc two", "doc three"]  # re-iterable
    assert c.stats.documents == 3 and c.stats.files_read == 2
    assert list(corpus.open_corpus(str(tmp_path / "a.txt"), min_chars=8)) == ["doc one line one line two"]


def test_bad_files_skipped_with_counted_warning(tmp_path, caplog):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary" * 10)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "good.txt").write_text("Real text. More text.")
    c = corpus.open_corpus(str(tmp_path))
    with caplog.at_level(logging.WARNING):
        docs = list(c)
    assert docs == ["Real text. More text."]
    assert c.stats.files_skipped == 3
    reasons = " ".join(c.stats.skipped.values())
    assert "empty" in reasons and "binary" in reasons and "UTF-8" in reasons
    assert "skipping" in caplog.text


def test_nothing_usable_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(KbertInputError, match="no usable text"):
        corpus.open_corpus(str(tmp_path))
    with pytest.raises(KbertInputError, match="not found"):
        corpus.open_corpus(str(tmp_path / "missing"))
    (tmp_path / "x.bin").mkdir()
    with pytest.raises(KbertInputError, match="no text files"):
        corpus.open_corpus(str(tmp_path / "x.bin"))


def test_text_dataset_streams(tmp_path):
    (tmp_path / "a.txt").write_text("first\n\nsecond\n")
    ds = corpus.text_dataset(str(tmp_path))
    assert [d.numpy().decode() for d in ds] == ["first", "second"]


def test_tfds_real_code_path_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        ds = corpus.tfds_dataset("wikipedia/20230601.en")
        texts = [t.numpy() for t in ds]
    assert len(texts) == 4 and all(isinstance(t, bytes) for t in texts)
    with tfds.testing.mock_data(num_examples=3):  # through the "tfds:NAME:SPLIT" source string too
        assert len(list(corpus.text_dataset("tfds:wiki40b/en:validation"))) == 3


def test_tfds_unknown_dataset_is_input_error():
    with pytest.raises(KbertInputError, match="could not be loaded"):
        corpus.tfds_dataset("no_such_dataset_kbert", download=False)
