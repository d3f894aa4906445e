"""A masked-LM teacher from a real encoder that ships without an MLM head (all-MiniLM-L6-v2).

The encoder stays frozen; only a `MaskedLMHead` (dense + GELU + LayerNorm + bias, its output
projection tied to the encoder's input embedding, so the vocabulary matrix is the real one) is
trained, on masked sentences of a corpus (default: the bundled Jane Austen corpus). Because the
encoder is frozen, its hidden states at the masked positions are computed once per masked example
and the head is then trained on those cached features: minutes on a CPU.

    >>> from kbert import assets
    >>> from kbert.checkpoints.hf import load_hf
    >>> ckpt = load_hf(assets.minilm_dir())                                           # doctest: +SKIP
    >>> teacher = train_mlm_head(ckpt.backbone, ckpt.tokenizer, train_examples=2000)  # doctest: +SKIP
    >>> teacher.report["heldout_accuracy"]                                            # doctest: +SKIP

The result feeds `Distiller(teacher.encoder, student, teacher_head=teacher.head, ...)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kbert.errors import KbertInputError
from kbert.training.optim import adamw


@dataclass
class MlmTeacher:
    encoder: object
    head: object
    report: dict = field(default_factory=dict)


def corpus_segments(documents, max_words: int = 40, min_words: int = 8):
    """Sentence runs of up to `max_words` words from `documents` (strings), in order."""
    from kbert.data.sentences import split_sentences

    for doc in documents:
        run = []
        for sentence in split_sentences(doc):
            words = sentence.split()
            if run and len(run) + len(words) > max_words:
                if len(run) >= min_words:
                    yield " ".join(run)
                run = []
            run.extend(words[:max_words])
        if len(run) >= min_words:
            yield " ".join(run)


def masked_examples(tokenizer, family: str, texts, seq_len: int, max_predictions: int, seed: int = 0) -> dict:
    """Tokenise + mask `texts` with `kbert.data.pretraining.Masker`: encoder features with
    `mask_positions`, and labels `mlm_ids` / `mlm_weights` (numpy)."""
    import tensorflow as tf

    from kbert.data.pretraining import Masker
    from kbert.preprocessing import preprocessor_for

    features = preprocessor_for(tokenizer, family, seq_len=seq_len)(list(texts))
    masked = Masker.from_tokenizer(tokenizer, max_predictions=max_predictions)(
        features["token_ids"], tf.constant([seed, 17]), padding_mask=features["padding_mask"])
    out = {k: v.numpy() for k, v in features.items()}
    out.update({k: v.numpy() for k, v in masked.items()})
    return out


def mlm_accuracy(encoder, head, examples: dict, batch_size: int = 64) -> float:
    """Weighted top-1 accuracy of encoder + head at the masked positions."""
    from kbert.models import sequence_output

    names = list(encoder.input)
    hits = total = 0.0
    for i in range(0, len(examples["token_ids"]), batch_size):
        batch = {k: v[i:i + batch_size] for k, v in examples.items()}
        seq = sequence_output(encoder({k: batch[k] for k in names}, training=False))
        pred = head(seq, mask_positions=batch["mask_positions"]).numpy().argmax(-1)
        hits += float(((pred == batch["mlm_ids"]) * batch["mlm_weights"]).sum())
        total += float(batch["mlm_weights"].sum())
    return hits / max(total, 1.0)


def train_mlm_head(encoder, tokenizer, documents=None, seq_len: int = 64, max_predictions: int = 10,
                   train_examples: int = 3000, heldout_examples: int = 500, epochs: int = 8, batch_size: int = 64,
                   learning_rate: float = 2e-3, seed: int = 0, verbose: int = 0) -> MlmTeacher:
    """Train a tied MLM head on the frozen `encoder`; returns `MlmTeacher(encoder, head, report)`.

    `documents`: iterable of strings (default: the bundled corpus). Held-out examples come from
    the documents after the training ones, so no held-out sentence is seen in training. The report
    holds `heldout_accuracy` (after), `heldout_accuracy_untrained` (before) and timings.
    """
    import keras

    from kbert.models import family_of, sequence_output
    from kbert.models.heads import mlm_head

    if documents is None:
        from kbert.data.corpus import bundled_documents

        documents = bundled_documents()
    family = family_of(encoder)
    segments = []
    for text in corpus_segments(documents):
        segments.append(text)
        if len(segments) >= train_examples + heldout_examples:
            break
    if len(segments) < 2 * batch_size and len(segments) < 16:
        raise KbertInputError(f"the corpus gave only {len(segments)} usable segments (need at least 16)")
    n_held = min(heldout_examples, len(segments) // 5)
    train_texts, held_texts = segments[:-n_held], segments[-n_held:]
    t0 = time.time()
    train = masked_examples(tokenizer, family, train_texts, seq_len, max_predictions, seed)
    held = masked_examples(tokenizer, family, held_texts, seq_len, max_predictions, seed + 1)

    encoder.trainable = False
    keras.utils.set_random_seed(seed)
    head = mlm_head(encoder)
    names = list(encoder.input)
    # Frozen encoder: its hidden states at the masked positions, once.
    cached = []
    for i in range(0, len(train["token_ids"]), batch_size):
        batch = {k: v[i:i + batch_size] for k, v in train.items()}
        seq = sequence_output(encoder({k: batch[k] for k in names}, training=False)).numpy()
        cached.append(np.take_along_axis(seq, batch["mask_positions"][..., None], axis=1))
    hidden = np.concatenate(cached)
    t_features = time.time() - t0
    untrained = mlm_accuracy(encoder, head, held, batch_size)

    positions = np.tile(np.arange(max_predictions, dtype="int32"), (len(hidden), 1))
    h_in = keras.Input((max_predictions, hidden.shape[-1]), name="hidden")
    p_in = keras.Input((max_predictions,), dtype="int32", name="positions")
    trainer = keras.Model([h_in, p_in], head(h_in, mask_positions=p_in))
    trainer.compile(optimizer=adamw(learning_rate, weight_decay=0.01, clipnorm=None),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    t1 = time.time()
    hist = trainer.fit([hidden, positions], train["mlm_ids"], sample_weight=train["mlm_weights"],
                       batch_size=batch_size, epochs=epochs, verbose=verbose, shuffle=True).history
    report = {
        "train_segments": len(train_texts), "heldout_segments": len(held_texts), "seq_len": seq_len,
        "max_predictions": max_predictions, "epochs": epochs,
        "train_accuracy": float(hist["accuracy"][-1]), "train_loss": float(hist["loss"][-1]),
        "heldout_accuracy_untrained": untrained,
        "heldout_accuracy": mlm_accuracy(encoder, head, held, batch_size),
        "features_s": t_features, "head_train_s": time.time() - t1,
    }
    return MlmTeacher(encoder, head, report)
