import numpy as np
import pytest

from kbert.training.mlm_teacher import corpus_segments, masked_examples, mlm_accuracy, train_mlm_head


def test_corpus_segments_pack_sentences():
    doc = "One two three four five. " * 10
    segs = list(corpus_segments([doc], max_words=12, min_words=4))
    assert segs and all(4 <= len(s.split()) <= 12 for s in segs)
    assert list(corpus_segments(["Too short."], min_words=4)) == []


@pytest.mark.slow
def test_head_on_frozen_minilm_learns_from_the_bundled_corpus():
    from kbert import assets
    from kbert.checkpoints.hf import load_hf

    ckpt = load_hf(assets.minilm_dir())
    before = [w.copy() for w in ckpt.backbone.get_weights()]
    teacher = train_mlm_head(ckpt.backbone, ckpt.tokenizer, train_examples=240, heldout_examples=60, seq_len=32,
                             max_predictions=5, epochs=4, batch_size=32)
    r = teacher.report
    assert r["heldout_segments"] == 60 and r["train_segments"] == 240
    # a real gain on held-out Austen sentences the head never saw
    assert r["heldout_accuracy"] > r["heldout_accuracy_untrained"] + 0.02
    # the encoder is untouched and the head's output projection is the encoder's embedding
    assert all(np.array_equal(a, b) for a, b in zip(before, ckpt.backbone.get_weights()))
    assert teacher.head.token_embedding is ckpt.backbone.token_embedding
    held = masked_examples(ckpt.tokenizer, "bert", ["It is a truth universally acknowledged, that a single man "
                                                    "in possession of a good fortune, must be in want of a wife."],
                           32, 5)
    assert 0.0 <= mlm_accuracy(teacher.encoder, teacher.head, held) <= 1.0
