import numpy as np
import pytest
from conftest import write_austen_excerpt
import tensorflow as tf

from kbert import tokenizer_training
from kbert.data import pretraining as P
from kbert.errors import KbertInputError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(495)] + [f"##s{i}" for i in range(100)]


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory):
    return write_austen_excerpt(tmp_path_factory, "docs", 6)


@pytest.fixture(scope="module")
def wordpiece(docs_dir):
    return tokenizer_training.train_wordpiece(docs_dir, vocab_size=500)


@pytest.fixture(scope="module")
def sentencepiece(docs_dir):
    return tokenizer_training.train_sentencepiece(docs_dir, vocab_size=400)


def _random_ids(rng, shape, continuation_rate=0.3):
    ids = rng.integers(5, 500, size=shape)
    cont = rng.random(shape) < continuation_rate
    ids[cont] = rng.integers(500, 600, size=cont.sum())
    ids[:, 0], ids[:, -1] = 2, 3
    return ids


def test_masking_rates_80_10_10_and_specials_untouched():
    masker = P.Masker(VOCAB, max_predictions=24, whole_word=False)
    ids = _random_ids(np.random.default_rng(0), (512, 128))
    ids[:, 100:] = 0  # padding
    ids[:, 99] = 3
    out = {k: v.numpy() for k, v in masker(tf.constant(ids), seed=(1, 2)).items()}
    w = out["mlm_weights"]
    assert out["mask_positions"].shape == (512, 24) and w.shape == (512, 24)
    n_candidates = 98  # 100 real tokens minus [CLS] and [SEP]
    assert abs(w.sum(1).mean() - round(0.15 * n_candidates)) < 0.5
    pos = out["mask_positions"]
    assert (pos[w > 0] >= 1).all() and (pos[w > 0] <= 98).all()  # never [CLS], [SEP] or padding
    assert all((np.diff(pos[r][w[r] > 0]) > 0).all() for r in range(len(pos)))  # ascending, unique
    orig = np.take_along_axis(ids, pos, 1)[w > 0]
    assert (out["mlm_ids"][w > 0] == orig).all() and (out["mlm_ids"][w == 0] == 0).all()
    new = np.take_along_axis(out["token_ids"], pos, 1)[w > 0]
    frac_mask = (new == 4).mean()
    frac_kept = (new == orig).mean()
    assert 0.77 < frac_mask < 0.83 and 0.08 < frac_kept < 0.12
    changed = out["token_ids"] != ids
    assert changed.sum() <= (w > 0).sum() and not changed[:, 99:].any()


def test_whole_word_masking_never_splits_words():
    masker = P.Masker(VOCAB, max_predictions=30, whole_word=True)
    ids = _random_ids(np.random.default_rng(1), (128, 64), continuation_rate=0.5)
    out = masker(tf.constant(ids), seed=(3, 4))
    pos, w = out["mask_positions"].numpy(), out["mlm_weights"].numpy()
    classes = P.token_classes(VOCAB)
    for r in range(len(ids)):
        chosen = set(pos[r][w[r] > 0].tolist())
        assert chosen
        for p in chosen:  # every piece of a chosen word is chosen
            if p + 1 < 63 and classes[ids[r, p + 1]] == P.CONTINUATION:
                assert p + 1 in chosen
            if classes[ids[r, p]] == P.CONTINUATION and p - 1 >= 1:
                assert p - 1 in chosen


def test_ngram_masking_prefers_short_spans():
    masker = P.Masker(VOCAB[:500], max_predictions=40, max_ngram=3)
    ids = _random_ids(np.random.default_rng(2), (256, 256), continuation_rate=0.0)
    out = masker(tf.constant(ids), seed=(5, 6))
    pos, w = out["mask_positions"].numpy(), out["mlm_weights"].numpy()
    runs = []
    for r in range(len(ids)):
        p = pos[r][w[r] > 0]
        breaks = np.flatnonzero(np.diff(p) != 1)
        runs += np.diff(np.concatenate([[-1], breaks, [len(p) - 1]])).tolist()
    share = np.bincount(runs, minlength=4)[1:4] / len(runs)
    # p(n) ∝ 1/n gives 6/11, 3/11, 2/11; adjacent spans merge a little.
    assert share[0] > share[1] > share[2] > 0.08 and max(runs) > 1


def test_masking_deterministic_stateless_and_jittable():
    masker = P.Masker(VOCAB, max_predictions=8, max_ngram=3)
    ids = tf.constant(_random_ids(np.random.default_rng(3), (4, 32)))
    a, b, c = masker(ids, (7, 7)), masker(ids, (7, 7)), masker(ids, (7, 8))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["mask_positions"], c["mask_positions"])
    jit = tf.function(lambda x, s: masker(x, s), jit_compile=True)
    d = jit(ids, tf.constant([7, 7]))  # inside an XLA train step (the distiller masks there)
    assert all(d[k].shape == a[k].shape for k in a)
    assert np.array_equal(d["mlm_weights"].numpy().sum(1) > 0, a["mlm_weights"].numpy().sum(1) > 0)
    w = d["mlm_weights"].numpy() > 0
    assert (np.take_along_axis(ids.numpy(), d["mask_positions"].numpy(), 1)[w] == d["mlm_ids"].numpy()[w]).all()
    single = masker(ids[0], (7, 7))
    assert single["mask_positions"].shape == (8,)


def test_pipeline_nsp_shapes_layout_and_labels(docs_dir, wordpiece):
    stats = P.PipelineStats()
    ds = P.pretraining_dataset(docs_dir, wordpiece, seq_len=32, batch_size=16, objective="nsp", seed=0,
                               shuffle_buffer=200, stats=stats)
    batches = list(ds)
    x, y = batches[0]
    assert {k: tuple(v.shape) for k, v in x.items()} == {
        "token_ids": (16, 32), "padding_mask": (16, 32), "segment_ids": (16, 32), "mask_positions": (16, 6)}
    assert y["mlm_ids"].shape == (16, 6) and y["mlm_weights"].dtype == tf.float32 and y["pair_label"].shape == (16,)
    t, seg, pm = x["token_ids"].numpy(), x["segment_ids"].numpy(), x["padding_mask"].numpy()
    cls, sep = wordpiece.cls_token_id, wordpiece.sep_token_id
    assert (t[:, 0] == cls).all()
    for r in range(16):
        n = pm[r].sum()
        seps = np.flatnonzero(t[r] == sep)
        assert seps[-1] == n - 1 and (seg[r, : seps[0] + 1] == 0).all() and (seg[r, seps[0] + 1: n] == 1).all()
    labels = np.concatenate([b[1]["pair_label"].numpy() for b in batches])
    assert 0.3 < labels.mean() < 0.6  # about half random next
    assert stats.documents == 6 and stats.single_sentence_documents == 0


def test_pipeline_sop_deterministic_and_dynamic_masking(docs_dir, sentencepiece):
    def make(seed):
        return P.pretraining_dataset(docs_dir, sentencepiece, seq_len=48, batch_size=8, objective="sop",
                                     seed=seed, shuffle_buffer=64, cache=True)

    ds = make(1)
    epoch1 = [x["mask_positions"].numpy() for x, _ in ds.take(4)]
    again = [x["mask_positions"].numpy() for x, _ in make(1).take(4)]
    assert all(np.array_equal(a, b) for a, b in zip(epoch1, again))  # deterministic under a seed
    epoch2 = [x["mask_positions"].numpy() for x, _ in ds.take(4)]  # second pass over the same dataset
    assert not all(np.array_equal(a, b) for a, b in zip(epoch1, epoch2))  # masks re-sampled
    labels = np.concatenate([y["pair_label"].numpy() for _, y in make(2).take(8)])
    assert 0.25 < labels.mean() < 0.75


def _unmasked(x, y):
    """Token ids with the masked positions put back (mask_rate ~0 still masks one token per row)."""
    ids, pos = x["token_ids"].numpy().copy(), x["mask_positions"].numpy()
    real = y["mlm_weights"].numpy() > 0
    np.put_along_axis(ids, pos, np.where(real, y["mlm_ids"].numpy(), np.take_along_axis(ids, pos, 1)), 1)
    return ids


@pytest.mark.parametrize("objective", ["sop", "nsp"])
def test_pairs_are_what_their_label_says(docs_dir, wordpiece, objective):
    """Label 0: the two segments are contiguous text of one document, in order. Label 1, SOP: they are not in
    that order, and (when nothing was truncated) the second followed by the first is; NSP: the second segment
    comes from another document than the first."""
    import keras

    from kbert.data.corpus import text_dataset
    from kbert.data.sentences import split_sentences

    def key(ids):
        return " " + " ".join(map(str, ids)) + " "

    streams = [key([t for s in wordpiece(split_sentences(d.numpy().decode())) for t in s])
               for d in text_dataset(docs_dir)]
    assert len(streams) >= 4
    keras.utils.set_random_seed(0)  # the stream depends on TF's global seed too, which other tests change
    ds = P.pretraining_dataset(docs_dir, wordpiece, seq_len=128, batch_size=32, objective=objective, seed=3,
                               shuffle_buffer=0 if objective == "sop" else 64, mask_rate=1e-9, max_predictions=1)
    checked = {0: 0, 1: 0}
    for x, y in ds.take(8):
        ids, labels, pm = _unmasked(x, y), y["pair_label"].numpy(), x["padding_mask"].numpy()
        for row, label, n in zip(ids, labels, pm.sum(1)):
            sep = np.flatnonzero(row == wordpiece.sep_token_id)
            first, second = list(row[1:sep[0]]), list(row[sep[0] + 1:n - 1])
            assert first and second
            in_order = any(key(first + second) in s for s in streams)
            assert in_order == (label == 0), (label, first[:5], second[:5])
            if label == 1 and objective == "nsp":
                docs_of = [{i for i, s in enumerate(streams) if key(seg) in s} for seg in (first, second)]
                assert docs_of[0] and docs_of[1] and not docs_of[0] & docs_of[1]
                checked[1] += 1
            elif label == 1 and n < 128:  # SOP, untruncated: swapping back restores the text
                assert any(key(second + first) in s for s in streams)
                checked[1] += 1
            checked[0] += label == 0
    assert checked[0] >= 20 and checked[1] >= 20, checked


def test_keep_junction_truncates_round_robin_around_the_junction():
    a = tf.ragged.constant([[1, 2, 3, 4, 5, 6], [1, 2], [1, 2, 3, 4, 5, 6, 7, 8]])
    b = tf.ragged.constant([[11, 12, 13, 14, 15, 16], [11, 12, 13, 14, 15, 16, 17, 18], [11]])
    first, second = P.keep_junction(a, b, 6)
    assert first.to_list() == [[4, 5, 6], [1, 2], [4, 5, 6, 7, 8]]
    assert second.to_list() == [[11, 12, 13], [11, 12, 13, 14], [11]]


@pytest.mark.parametrize("objective", ["sop", "nsp"])
def test_over_long_pairs_keep_the_junction(objective):
    """Every sentence is longer than the whole sequence: the first segment must still end with its sentence's
    last token and the second start with its sentence's first one (SOP/NSP are decided at the junction)."""
    import kbert

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "start", "mid", "end", "."]
    tok = kbert.tokenizers.wordpiece(vocab)
    sentence = "Start " + "mid " * 18 + "end."  # capital: a sentence start for the splitter
    docs = tf.data.Dataset.from_tensor_slices([" ".join([sentence] * 6) for _ in range(4)])
    ds = P.pretraining_dataset(docs, tok, seq_len=16, batch_size=8, objective=objective, seed=0,
                               shuffle_buffer=0, mask_rate=1e-9, max_predictions=1)
    t = np.concatenate([_unmasked(x, y) for x, y in ds])
    sep = np.argmax(t == tok.sep_token_id, axis=1)
    assert len(t) >= 8 and (sep > 2).all() and (t[:, -1] == tok.sep_token_id).all()  # truncated, no padding
    rows = np.arange(len(t))
    assert (t[rows, sep - 1] == vocab.index(".")).all() and (t[rows, sep - 2] == vocab.index("end")).all()
    assert (t[rows, sep + 1] == vocab.index("start")).all()


def test_sentencepiece_pipeline_survives_seeding_after_it_is_built(docs_dir, sentencepiece):
    """tensorflow/text#570: `keras.utils.set_random_seed` clears TF's kernel cache, which used to delete the
    SentencePiece model under every pipeline built before it ("SentencepieceOp resource does not exist")."""
    import keras

    from kbert._compat.sentencepiece import make_durable

    assert make_durable()  # applied when kbert builds a SentencePiece tokenizer; idempotent
    ds = P.pretraining_dataset(docs_dir, sentencepiece, seq_len=32, batch_size=4, objective="sop", seed=0)
    before = next(iter(ds))[0]["token_ids"].numpy()
    keras.utils.set_random_seed(1)
    after = next(iter(ds))[0]["token_ids"].numpy()  # a second pass: new masks and pairs, same tokenizer
    assert after.shape == before.shape and after.max() < sentencepiece.vocabulary_size()
    def first_batch():  # the stream depends on kbert's seed and TF's global seed (both fixed here)
        keras.utils.set_random_seed(1)
        ds = P.pretraining_dataset(docs_dir, sentencepiece, seq_len=32, batch_size=4, objective="sop", seed=0)
        keras.utils.set_random_seed(1)  # clears the kernel cache again, after this pipeline was built
        return next(iter(ds))[0]["token_ids"].numpy()

    assert np.array_equal(first_batch(), first_batch())
    # every model keeps its own resource: a second, different SentencePiece model tokenizes differently
    other = tokenizer_training.train_sentencepiece(docs_dir, vocab_size=300)
    text = ["It is a truth universally acknowledged."]
    assert sentencepiece(text) != other(text) and sentencepiece(text) == sentencepiece(text)


def test_streams_from_an_endless_generator(wordpiece):
    def endless():
        i = 0
        while True:
            i += 1
            yield f"Document {i} starts here. It has a second sentence. And a third one, {i}."

    docs = tf.data.Dataset.from_generator(endless, output_signature=tf.TensorSpec([], tf.string))
    ds = P.pretraining_dataset(docs, wordpiece, seq_len=16, batch_size=4, shuffle_buffer=8)
    assert len(list(ds.take(3))) == 3  # never materialises the (infinite) corpus


def test_bad_inputs(tmp_path, wordpiece):
    with pytest.raises(KbertInputError, match="seq_len 7"):
        P.pretraining_dataset("bundled", wordpiece, seq_len=7)
    with pytest.raises(KbertInputError, match="objective"):
        P.pretraining_dataset("bundled", wordpiece, objective="mlm")
    (tmp_path / "a.txt").write_text("Only one sentence here.\n\nAnother lonely one.\n\nTwo here. Yes two.\n\n"
                                    "Three. Sentences. Here.\n")
    stats = P.PipelineStats()
    ds = P.pretraining_dataset(str(tmp_path), wordpiece, seq_len=16, batch_size=1, stats=stats, shuffle_buffer=0)
    n = len(list(ds))
    assert stats.single_sentence_documents == 2 and stats.documents == 4 and n >= 2
    with pytest.raises(KbertInputError, match="mask token"):
        P.Masker(["[PAD]", "a"])
