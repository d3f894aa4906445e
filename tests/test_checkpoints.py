"""Hugging Face checkpoints -> kbert: parity with `transformers` (torch) and clear errors."""

import json
import os
import shutil

import numpy as np
import pytest

import kbert
from kbert import assets
from kbert.checkpoints.hf import describe, load_hf
from kbert.errors import KbertInputError

torch = pytest.importorskip("torch", reason="parity tests need the parity extra: pip install 'kbert[parity]'")
transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there!",
    "Café naïve résumé: accents are stripped by uncased BERT models.",
    "A much longer sentence about models that run on phones, in browsers and behind TF Serving, "
    "which makes the batch padded for the shorter ones.",
]


def _minilm():
    return assets.minilm_dir()


def _masked_max_diff(ours, ref, mask):
    m = mask[..., None].astype(bool)
    return float(np.abs((ours - ref) * m).max())


@pytest.mark.parity
def test_minilm_hidden_states_match_transformers():
    path = _minilm()
    ckpt = load_hf(path)
    ht = transformers.AutoTokenizer.from_pretrained(path)
    hm = transformers.AutoModel.from_pretrained(path).eval()
    enc = ht(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = hm(**enc).last_hidden_state.numpy()
    ids = enc["input_ids"].numpy()
    assert ids.shape[1] > 20 and (enc["attention_mask"].numpy() == 0).any()  # really padded
    ours = ckpt.backbone(
        {"token_ids": ids, "segment_ids": enc["token_type_ids"].numpy(), "padding_mask": enc["attention_mask"].numpy()}
    )["sequence_output"].numpy()
    assert _masked_max_diff(ours, ref, enc["attention_mask"].numpy()) < 1e-4


@pytest.mark.parity
def test_minilm_preprocessing_gives_hf_input_ids():
    from kbert.preprocessing import preprocessor_for

    path = _minilm()
    ckpt = load_hf(path)
    ht = transformers.AutoTokenizer.from_pretrained(path)
    enc = ht(SENTENCES, padding="max_length", max_length=32, truncation=True)
    ours = preprocessor_for(ckpt.tokenizer, "bert", seq_len=32)(SENTENCES)
    np.testing.assert_array_equal(ours["token_ids"].numpy(), np.array(enc["input_ids"]))
    np.testing.assert_array_equal(ours["padding_mask"].numpy(), np.array(enc["attention_mask"]))


EDGE_CASES = [
    "",
    "   ",
    "Café naïve résumé Ångström",
    "北京欢迎你 東京 서울",
    "emoji 😀👍🏽 🇫🇷 ok",
    "ctrl\x00char\x07\x1b[31m tab\there\r\nnew",
    "zero\u200bwidth soft\u00adhyphen",
    "\ufffd replacement",
    "ＦＵＬＬ width and Ⅻ ½ ² ﬁ ligature",
    "İstanbul ΣΊΣΥΦΟΣ Straße",
    "\u2028line\u2029para\x0bvt\x0cff\x85nel x\u00a0y\u3000z",
    "don't stop-believing!!! ...",
    "a" * 150,
    "word " * 600,
]


@pytest.mark.parity
def test_token_ids_equal_hf_fast_tokenizer_on_real_and_edge_text():
    import tensorflow as tf

    path = _minilm()
    tok = kbert.tokenizers.from_folder(path, "bert")
    ht = transformers.AutoTokenizer.from_pretrained(path)
    assert ht.is_fast
    with open(assets.gensim_file("pang_lee_polarity.cor"), "rb") as f:
        real = f.read().decode("latin-1").splitlines()
    assert len(real) == 200
    texts = real + EDGE_CASES
    graph = tf.function(lambda x: tok(x))(tf.constant(texts)).to_list()  # tf.data / SavedModel path
    for text, graph_ids in zip(texts, graph):
        expected = ht(text, add_special_tokens=False)["input_ids"]
        assert [int(i) for i in tok(text)] == expected, repr(text[:60])  # eager (Python) path
        assert [int(i) for i in graph_ids] == expected, repr(text[:60])


def _save_random_hf(tmp_path, config, vocab_file=None, spm=None):
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(config).eval()
    model.save_pretrained(tmp_path)
    if vocab_file:
        shutil.copy(vocab_file, tmp_path / "vocab.txt")
    if spm:
        shutil.copy(spm, tmp_path / "spiece.model")
    return model


def _compare(model, path, ids, mask, segments=None):
    ckpt = load_hf(path)
    with torch.no_grad():
        kwargs = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        if segments is not None:
            kwargs["token_type_ids"] = torch.tensor(segments)
        ref = model(**kwargs).last_hidden_state.numpy()
    inputs = {"token_ids": ids, "padding_mask": mask}
    if segments is not None:
        inputs["segment_ids"] = segments
    ours = kbert.models.sequence_output(ckpt.backbone(inputs)).numpy()
    return ckpt, _masked_max_diff(ours, ref, mask)


def _batch(vocab_size, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(3, 17)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    mask[2, 4:] = 0
    return ids * mask, mask


@pytest.mark.parity
def test_random_distilbert_matches_transformers(tmp_path):
    vocab = os.path.join(_minilm(), "vocab.txt")
    cfg = transformers.DistilBertConfig(vocab_size=30522, dim=64, n_layers=2, n_heads=2, hidden_dim=128)
    model = _save_random_hf(tmp_path, cfg, vocab_file=vocab)
    ids, mask = _batch(30522)
    ckpt, diff = _compare(model, tmp_path, ids, mask)
    assert ckpt.family == "distilbert" and diff < 1e-4


@pytest.fixture(scope="module")
def spiece_model(tmp_path_factory):
    import sentencepiece as spm

    out = tmp_path_factory.mktemp("spm")
    with open(assets.gensim_file("pang_lee_polarity.cor"), "rb") as f:
        lines = f.read().decode("latin-1").splitlines()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(out / "spiece"), vocab_size=300,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        model_type="unigram", minloglevel=2,
    )
    return out / "spiece.model"


@pytest.mark.parity
def test_random_albert_matches_transformers(tmp_path, spiece_model):
    cfg = transformers.AlbertConfig(vocab_size=300, embedding_size=32, hidden_size=64, num_hidden_layers=3,
                                    num_attention_heads=2, intermediate_size=128)
    model = _save_random_hf(tmp_path, cfg, spm=spiece_model)
    ids, mask = _batch(300)
    segments = np.zeros_like(ids)
    segments[0, 8:] = 1
    ckpt, diff = _compare(model, tmp_path, ids, mask, segments)
    assert ckpt.family == "albert" and diff < 1e-4
    assert ckpt.backbone.count_params() == sum(p.numel() for p in model.parameters())


@pytest.mark.parity
def test_random_bert_without_prefix_and_torch_bin(tmp_path):
    vocab = os.path.join(_minilm(), "vocab.txt")
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=128)
    model = _save_random_hf(tmp_path, cfg, vocab_file=vocab)
    # The same weights as a torch state dict (pytorch_model.bin): read with weights_only=True.
    os.remove(tmp_path / "model.safetensors")
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    ids, mask = _batch(30522, seed=1)
    _, diff = _compare(model, tmp_path, ids, mask, np.zeros_like(ids))
    assert diff < 1e-4


# ---- errors: each names the file and what is wrong -------------------------------------------


@pytest.fixture
def minilm_copy(tmp_path):
    src = _minilm()
    dst = tmp_path / "ckpt"
    dst.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(src, name), dst / name)
    os.symlink(os.path.join(src, "model.safetensors"), dst / "model.safetensors")
    return dst


def test_missing_folder_and_config(tmp_path):
    with pytest.raises(KbertInputError, match="checkpoint folder not found"):
        load_hf(tmp_path / "nope")
    with pytest.raises(KbertInputError, match="missing config.json"):
        load_hf(tmp_path)


def test_corrupt_config(minilm_copy):
    (minilm_copy / "config.json").write_text('{"model_type": "bert", ')
    with pytest.raises(KbertInputError, match="config.json is not valid JSON"):
        load_hf(minilm_copy)


def test_unknown_config_keys_and_unsupported_values(minilm_copy):
    cfg = json.loads((minilm_copy / "config.json").read_text())
    (minilm_copy / "config.json").write_text(json.dumps({**cfg, "rotary_dim": 64}))
    with pytest.raises(KbertInputError, match=r"config keys not understood: \['rotary_dim'\]"):
        load_hf(minilm_copy)
    assert load_hf(minilm_copy, strict_config=False).family == "bert"
    (minilm_copy / "config.json").write_text(json.dumps({**cfg, "position_embedding_type": "relative_key"}))
    with pytest.raises(KbertInputError, match="position_embedding_type='relative_key' is not supported"):
        load_hf(minilm_copy)
    (minilm_copy / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(KbertInputError, match="model_type 'gpt2'"):
        load_hf(minilm_copy)


def test_missing_and_truncated_weights(minilm_copy):
    os.remove(minilm_copy / "model.safetensors")
    with pytest.raises(KbertInputError, match="no weights in .*model.safetensors"):
        load_hf(minilm_copy)
    real = os.path.join(_minilm(), "model.safetensors")
    with open(real, "rb") as f:
        data = f.read()
    (minilm_copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(KbertInputError, match="model.safetensors is truncated"):
        load_hf(minilm_copy)
    (minilm_copy / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(KbertInputError, match="model.safetensors is (corrupt|not a safetensors)"):
        load_hf(minilm_copy)


def test_wrong_shape_names_the_tensor(minilm_copy):
    cfg = json.loads((minilm_copy / "config.json").read_text())
    (minilm_copy / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 1024}))
    with pytest.raises(KbertInputError, match=r"intermediate.dense.weight.*shape"):
        load_hf(minilm_copy)


def test_vocab_size_must_equal_embedding_rows(minilm_copy):
    lines = (minilm_copy / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (minilm_copy / "vocab.txt").write_text("\n".join(lines[:-10]) + "\n", encoding="utf-8")
    with pytest.raises(KbertInputError, match="tokenizer has 30512 tokens but config.json says vocab_size=30522"):
        load_hf(minilm_copy)


def test_bad_vocab_files(minilm_copy):
    (minilm_copy / "vocab.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(KbertInputError, match="not UTF-8"):
        load_hf(minilm_copy)
    (minilm_copy / "vocab.txt").write_text("hello\nworld\n")
    with pytest.raises(KbertInputError, match=r"lacks the special tokens"):
        load_hf(minilm_copy)
    os.remove(minilm_copy / "vocab.txt")
    with pytest.raises(KbertInputError, match="no vocab.txt"):
        load_hf(minilm_copy)


def test_corrupt_sentencepiece_model(tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"not a sentencepiece model")
    with pytest.raises(KbertInputError, match="SentencePiece model is not valid"):
        kbert.tokenizers.sentencepiece(tmp_path / "spiece.model")


def test_pickled_torch_file_is_not_unpickled(tmp_path, minilm_copy):
    os.remove(minilm_copy / "model.safetensors")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/pwned",))

    torch.save({"x": Evil()}, minilm_copy / "pytorch_model.bin")
    with pytest.raises(KbertInputError, match="weights_only=True"):
        load_hf(minilm_copy)
    assert not (tmp_path / "pwned").exists()


def test_describe_counts_without_building():
    info = describe(_minilm())
    assert info["family"] == "bert" and info["params"] == 22_713_216 and info["tokenizer_file"] == "vocab.txt"
