"""The string-in TFLite variant: tokenizer inside the graph (tf-text custom ops), same answers as the
tensor-in model on real sentences, and refused unless custom ops are allowed."""

import os

import numpy as np
import pytest

import kbert
from kbert.errors import KbertInputError
from kbert.export import accuracy_gate, string_in, tflite

SEQ = 32


def test_string_in_matches_keras():
    from kbert.tasks.classifier import build_classifier

    vocab = kbert.tokenizers.read_vocab(os.path.join(kbert.assets.minilm_dir(), "vocab.txt"))
    tok = kbert.tokenizers.wordpiece(vocab)
    clf = build_classifier(kbert.models.backbone("bert_tiny", num_layers=1), 2)
    content = string_in.convert(clf, tok, "classify", SEQ)
    assert sorted(tflite.check_builtin_only(content)) == ["FastBertNormalize", "FastWordpieceTokenizeWithOffsets"]
    texts = accuracy_gate.sentiment_sentences(6)[0] + ["Héllo WORLD, a naïve café!", "x " * 100]
    got = np.concatenate([o["probability"] for o in string_in.run(content, texts)])
    ref = np.concatenate([r["probability"] for r in accuracy_gate.run_keras(
        tflite.mobile_model(clf, "classify", SEQ), tflite.representative_inputs(tok, texts, SEQ))])
    np.testing.assert_allclose(got, ref, atol=1e-5)
    with pytest.raises(KbertInputError, match="modes"):
        string_in.convert(clf, tok, "classify", SEQ, mode="int8")
    with pytest.raises(KbertInputError, match="WordPiece"):
        string_in.string_in_model(clf, object(), "classify", SEQ)
