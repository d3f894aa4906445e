import json

import pytest
from conftest import write_austen_excerpt

from kbert import tokenizer_training, tokenizers
from kbert.cli import main
from kbert.errors import KbertInputError


def _ids(tok, text):
    out = tok([text])
    return [int(i) for i in (out.numpy().tolist() if hasattr(out, "numpy") else out)[0]]


def _text(out):
    out = out.numpy() if hasattr(out, "numpy") else out
    return out[0].decode() if isinstance(out[0], bytes) else str(out[0])


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    return write_austen_excerpt(tmp_path_factory, "corpus", 4)


def test_wordpiece_trains_saves_and_loads(small_corpus, tmp_path):
    tok = tokenizer_training.train_wordpiece(small_corpus, vocab_size=600, out=str(tmp_path))
    vocab = tok.get_vocabulary()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 200 < len(vocab) <= 600 and any(t.startswith("##") for t in vocab)
    loaded = tokenizers.from_folder(str(tmp_path), "bert")
    ids = _ids(loaded, "Mrs. Dashwood was surprised.")
    assert ids == _ids(tok, "Mrs. Dashwood was surprised.")
    assert 1 not in ids[:2]  # common words are known, not [UNK]


def test_sentencepiece_has_albert_specials_and_loads(small_corpus, tmp_path):
    tok = tokenizer_training.train_sentencepiece(small_corpus, vocab_size=500, out=str(tmp_path))
    assert tok.get_vocabulary()[:5] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    loaded = tokenizers.from_folder(str(tmp_path), "albert")
    assert loaded.token_to_id("[MASK]") == 4 and loaded.pad_token_id == 0
    ids = _ids(loaded, "Elinor was the eldest daughter.")
    assert ids and 1 not in ids  # no <unk>
    assert _text(loaded.detokenize([ids])) == "elinor was the eldest daughter."


def test_cli_and_errors(small_corpus, tmp_path, capsys):
    out = tmp_path / "wp"
    code = main(["tokenizer", "train", "--json", "--kind", "wordpiece", "--corpus", small_corpus,
                 "--vocab-size", "300", "--out", str(out)])
    assert code == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    assert json.loads(lines[-1])["vocab_size"] <= 300
    assert (out / "vocab.txt").is_file() and (out / "tokenizer_config.json").is_file()
    assert main(["tokenizer", "train", "--kind", "wordpiece", "--corpus", str(tmp_path / "nope"),
                 "--out", str(out)]) == 2
    with pytest.raises(KbertInputError, match="too small"):
        tokenizer_training.train("sentencepiece", small_corpus, vocab_size=10)
    with pytest.raises(KbertInputError, match="unknown tokenizer kind"):
        tokenizer_training.train("bpe", small_corpus)
