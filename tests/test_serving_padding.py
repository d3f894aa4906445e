"""Serving signatures pad each batch to a length bucket, not the full seq_len: same outputs."""

import keras
import numpy as np
import tensorflow as tf

import kbert
from kbert.export.serving import Signatures
from kbert.model_dir import load_model_dir, save_model_dir
from kbert.tasks.classifier import build_classifier

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz.,!?") + ["the", "film"]


def _md(tmp_path, task):
    keras.utils.set_random_seed(0)
    encoder = kbert.models.backbone("bert_tiny", vocabulary_size=len(VOCAB), num_layers=1, max_sequence_length=64)
    tok = kbert.tokenizers.wordpiece(VOCAB)
    if task == "classify":
        model, meta = build_classifier(encoder, 3, pooling="mean"), dict(labels=["a", "b", "c"], pair=False,
                                                                          multi_label=False)
    else:
        model, meta = kbert.tasks.embedder.build_embedder(encoder), {}
    return load_model_dir(save_model_dir(tmp_path / task, model, tok, task, 48, **meta))


def test_bucketed_signatures_match_full_length(tmp_path):
    texts = [["the film"], ["a b c d e f g h i j k l m n o p q r s t"], ["the film", "x", "the film " * 40], []]
    for task, key in (("classify", "probabilities"), ("embed", "embeddings")):
        md = _md(tmp_path, task)
        full, bucketed = Signatures(md, buckets=None), Signatures(md)
        assert bucketed.buckets == (8, 16, 24, 32, 40, 48)
        for batch in texts:
            text = tf.constant(batch, tf.string, shape=[len(batch)])
            want, got = full.raw_text(text=text)[key].numpy(), bucketed.raw_text(text=text)[key].numpy()
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=2e-5)
        ids = bucketed.preprocessor(tf.constant(["the film", "a b c"]))
        args = [ids[n] for n in bucketed.input_names]
        np.testing.assert_allclose(bucketed.token_ids(*args)[key].numpy(), full.token_ids(*args)[key].numpy(),
                                   atol=2e-5)
