"""TF Serving export: a versioned SavedModel that takes raw UTF-8 text.

    >>> from kbert.export.serving import export_serving
    >>> export_serving("runs/sentiment", "serving/sentiment")          # doctest: +SKIP
    'serving/sentiment/1'

writes TF Serving's layout, `MODEL_BASE/<version>/{saved_model.pb, variables/, assets.extra/}`,
with `keras.export.ExportArchive`. Tokenization runs inside the graph (keras-hub's tokenizer and
`MultiSegmentPacker` on tf-text ops), so clients send strings, not token ids (keras-hub issue
#784). Serving it needs tf-text's ops: the `tensorflow/serving` image whose version matches
tensorflow-text's, or a custom build; Python clients `import tensorflow_text` before loading.

Signatures (all inputs are batches; outputs have readable names):

| task     | `serving_default` inputs | outputs                                                             |
|----------|--------------------------|---------------------------------------------------------------------|
| classify | `text` [, `text_b`]      | `logits`, `probabilities`, `label_ids`, `labels` (strings)          |
| ner      | `text`                   | per token: `tokens`, `token_labels`, `token_label_ids`,             |
|          |                          | `probabilities`, `start`/`end` (character offsets, -1 for [CLS],    |
|          |                          | [SEP] and padding), `is_word_start`                                 |
| qa       | `question`, `context`    | `answer`, `start`/`end` (character offsets into context), `score`,  |
|          |                          | `start_token`, `end_token`, `null_score_diff` (SQuAD v2: no answer  |
|          |                          | when it exceeds your threshold, 0 as in kbert's `postprocess`)      |
| embed    | `text`                   | `embeddings`                                                        |

`from_token_ids` takes `token_ids`, `padding_mask` (and `segment_ids` unless DistilBERT), int32
[batch, length], for clients that tokenize themselves, and returns the same outputs less those
that need the text (offsets, tokens, answer text).

Dynamic padding: for `classify` and `embed`, the model runs on the batch padded to the smallest
length bucket (`kbert.inference.bucket_lengths(seq_len)`: every 8 tokens up to 128, then every 32, up
to `seq_len`) that holds its longest text, not to the full `seq_len` (outputs equal within float
tolerance). `ner` and `qa`, whose outputs are per token, run at full length.

Defined behaviour for odd input: an empty string is `[CLS] [SEP]`; bytes that are not UTF-8 are
replaced by U+FFFD (offsets then count characters of that repaired text, as Python's
`bytes.decode("utf-8", "replace")` does); text longer than the model's `seq_len` is truncated;
a batch of zero gives empty outputs. Character offsets count Unicode code points. For WordPiece
models a sub-word token carries the offsets of its whole word (`is_word_start` marks the first
piece), so an NER entity or a QA answer always covers whole words; SentencePiece (ALBERT) pieces
carry their own offsets.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from kbert.atomic import publish_dir
from kbert.errors import KbertInputError

# what a signature returns, by the task's `serving_outputs` (kbert.tasks.contract)
OFFSET_OUTPUTS = ("token_labels", "answer_span")  # need each token's character offsets


def serving_tasks() -> list[str]:
    """The tasks with a serving signature (`serving_inputs`) in the task registry."""
    from kbert.tasks.registry import export_names, export_spec

    return [t for t in export_names() if export_spec(t).serving_inputs]
MAX_ANSWER_TOKENS = 30
VERSION_RE = re.compile(r"^[0-9]+$")


def versions(base: str) -> list[int]:
    """Version numbers already under `base` (numeric sub-directories, as TF Serving sees them)."""
    if not os.path.isdir(base):
        return []
    return sorted(int(n) for n in os.listdir(base) if VERSION_RE.match(n) and os.path.isdir(os.path.join(base, n)))


def next_version(base: str) -> int:
    found = versions(base)
    return found[-1] + 1 if found else 1


def export_serving(model_dir, out: str, version: int | None = None, overwrite: bool = False,
                   warmup: bool = True, warmup_texts=None, max_answer_tokens: int = MAX_ANSWER_TOKENS) -> str:
    """Export a kbert model directory (or a loaded `ModelDir`) to `out/<version>`; returns that path.

    The version directory appears only once complete (written under a hidden temporary name in
    `out`, then renamed); an existing version is replaced only with `overwrite=True`.
    """
    from kbert.model_dir import ModelDir, load_model_dir
    from kbert.tasks import classifier, embedder, question_answerer, token_classifier  # noqa: F401  (register layers)

    md = model_dir if isinstance(model_dir, ModelDir) else load_model_dir(model_dir)
    if version is not None and (not isinstance(version, int) or version < 1):
        raise KbertInputError(f"--version must be a positive integer, got {version!r}")
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise KbertInputError(f"{out} exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    version, lock = reserve_version(out, version, overwrite)
    target = os.path.join(out, str(version))
    tmp = None
    try:
        archive = build_archive(md, max_answer_tokens=max_answer_tokens)
        tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=out)  # not numeric: TF Serving ignores it
        archive.write_out(tmp, verbose=False)
        if warmup:
            from kbert.export import warmup as warmup_lib

            requests = warmup_lib.requests_for(md.task, os.path.basename(os.path.abspath(out)),
                                               pair=bool(md.meta.get("pair")), texts=warmup_texts)
            warmup_lib.write(tmp, requests)
        try:  # with overwrite an existing version is swapped out (and back if that fails); else never touched
            publish_dir(tmp, target, replace=overwrite)
        except OSError as e:
            if overwrite or not os.path.exists(target):
                raise
            raise KbertInputError(f"{target} appeared during the export (not by kbert); it is kept. "
                                  "Pass --overwrite to replace it") from e
    except BaseException:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.release()
    return target


def reserve_version(base: str, version: int | None = None, overwrite: bool = False):
    """Claim a version number under `base` for one export: `(version, lock)`; `lock.release()` when done.

    Each version is claimed with a lock file `base/.version-N.lock` (`kbert.atomic.FileLock`), so
    concurrent exports into one base get different versions (`version=None`: the next one free), or,
    for the same explicit `version`, a clear refusal. A version that exists is claimed only with
    `overwrite`. Temporary folders a killed export left behind are removed here.
    """
    from kbert.atomic import FileLock

    v = next_version(base) if version is None else int(version)
    while True:
        lock = FileLock(os.path.join(base, f".version-{v}.lock"))
        if not lock.acquire():
            if version is not None:
                raise KbertInputError(f"{os.path.join(base, str(v))}: another process is exporting version {v} "
                                      "right now; wait for it or pass another --version")
            v += 1
            continue
        if os.path.exists(os.path.join(base, str(v))) and not overwrite:
            lock.release()
            if version is not None:
                raise KbertInputError(f"{os.path.join(base, str(v))} exists; pass --overwrite to replace version {v}")
            v += 1  # published by another export since we looked
            continue
        for name in os.listdir(base):  # a killed export of this version (its lock died with it)
            if name.startswith(f".tmp-{v}-"):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        return v, lock


def build_archive(md, max_answer_tokens: int = MAX_ANSWER_TOKENS):
    """A `keras.export.ExportArchive` with `serving_default` (raw text) and `from_token_ids`."""
    import keras

    task = md.task
    if task not in serving_tasks():
        raise KbertInputError(f"task {task!r} cannot be exported for serving; expected one of {', '.join(serving_tasks())}")
    if md.tokenizer is None:
        raise KbertInputError(f"{md.path}: the model directory has no tokenizer files; raw-text serving needs them")
    if task_spec(task).needs_labels and not md.labels:
        raise KbertInputError(f"{md.path}: kbert.json has no 'labels' for the {task} task")
    signatures = Signatures(md, max_answer_tokens=max_answer_tokens)
    archive = keras.export.ExportArchive()
    archive.track(md.model)
    archive.track(signatures.preprocessor)
    archive.add_endpoint("serving_default", signatures.raw_text)
    archive.add_endpoint("from_token_ids", signatures.token_ids)
    return archive


class Signatures:
    """The two serving functions of one task model, as `tf.function`s with input signatures.

    >>> sig = Signatures(load_model_dir("runs/sentiment"))            # doctest: +SKIP
    >>> sig.raw_text(text=tf.constant(["great film"]))["labels"]       # doctest: +SKIP
    """

    def __init__(self, md, max_answer_tokens: int = MAX_ANSWER_TOKENS, buckets="auto"):
        import keras_hub
        import tensorflow as tf

        from kbert.inference import bucket_lengths
        from kbert.preprocessing import TextPreprocessor

        self.md = md
        self.model = md.model
        self.task = md.task
        self.spec = task_spec(md.task)  # the task's serving inputs / outputs (kbert.tasks.contract)
        self.seq_len = int(md.seq_len)
        self.max_answer_tokens = int(max_answer_tokens)
        # None: every batch at full seq_len (the behaviour before dynamic padding)
        self.buckets = None if buckets is None else bucket_lengths(self.seq_len, buckets)
        self.input_names = _input_names(md.model)
        self.tokenizer = md.tokenizer
        self.preprocessor = TextPreprocessor(md.tokenizer, seq_len=self.seq_len,
                                             segments="segment_ids" in self.input_names)
        self.preprocessor(tf.constant([""]))  # builds it: ExportArchive tracks built layers only
        self.wordpiece = isinstance(md.tokenizer, keras_hub.tokenizers.WordPieceTokenizer)
        if self.spec.serving_outputs in OFFSET_OUTPUTS and not (self.wordpiece or hasattr(md.tokenizer, "_sentence_piece")):
            raise KbertInputError(f"raw-text {self.task} export needs a WordPiece or SentencePiece tokenizer "
                                  f"(for offsets); got {type(md.tokenizer).__name__}")
        # Same truncation and length as the token packer, carrying offsets / word ids instead of ids.
        self.offset_packer = keras_hub.layers.MultiSegmentPacker(
            start_value=-1, end_value=-1, pad_value=-1, sequence_length=self.seq_len,
            truncate=self.preprocessor.packer.truncate)
        self.labels = list(md.labels or [])
        self.multi_label = bool(md.meta.get("multi_label"))
        self.pair = bool(md.meta.get("pair"))

        text = lambda name: tf.TensorSpec([None], tf.string, name=name)  # noqa: E731
        if self.spec.serving_inputs == "question_context":
            self.raw_text = tf.function(self._qa_raw, input_signature=[text("question"), text("context")],
                                       autograph=False)
        elif self.pair:
            self.raw_text = tf.function(self._pair_raw, input_signature=[text("text"), text("text_b")],
                                       autograph=False)
        else:
            self.raw_text = tf.function(self._single_raw, input_signature=[text("text")], autograph=False)
        ids = [tf.TensorSpec([None, None], tf.int32, name=n) for n in self.input_names]
        self.token_ids = tf.function(self._from_ids, input_signature=ids, autograph=False)

    # ----- raw-text signatures -------------------------------------------------------------------
    def _single_raw(self, text):
        text = clean_utf8(text)
        if self.spec.serving_outputs == "token_labels":
            return self._ner_raw(text)
        return self._outputs(self.preprocessor(text))

    def _pair_raw(self, text, text_b):
        return self._outputs(self.preprocessor((clean_utf8(text), clean_utf8(text_b))))

    def _ner_raw(self, text):
        import tensorflow as tf

        pieces, starts, ends, word_start = self._pieces(text)
        token_ids, segment_ids = self.preprocessor.packer((pieces,))
        inputs = self._model_inputs(token_ids, segment_ids)
        out = self._outputs(inputs)
        chars = char_offsets(text, tf.stack([self.offset_packer((starts,))[0], self.offset_packer((ends,))[0]], -1))
        out["start"], out["end"] = chars[..., 0], chars[..., 1]
        out["is_word_start"] = self.offset_packer((word_start,))[0] > 0
        out["tokens"] = tf.gather(tf.constant(self.tokenizer.get_vocabulary()), token_ids)
        return out

    def _qa_raw(self, question, context):
        import tensorflow as tf

        question, context = clean_utf8(question), clean_utf8(context)
        q_pieces = self._pieces(question)[0]
        pieces, starts, ends, _ = self._pieces(context)
        token_ids, segment_ids = self.preprocessor.packer((q_pieces, pieces))
        none = tf.ones_like(q_pieces) * -1
        start_b = self.offset_packer((none, starts))[0]
        end_b = self.offset_packer((none, ends))[0]
        inputs = self._model_inputs(token_ids, segment_ids)
        out = self._qa_outputs(inputs, context_mask=start_b >= 0)
        i, j = out["start_token"], out["end_token"]
        found = i >= 0
        sb = tf.where(found, tf.gather(start_b, tf.maximum(i, 0), batch_dims=1), 0)
        eb = tf.where(found, tf.gather(end_b, tf.maximum(j, 0), batch_dims=1), 0)
        out["answer"] = tf.strings.substr(context, sb, eb - sb)
        chars = char_offsets(context, tf.stack([tf.where(found, sb, -1), tf.where(found, eb, -1)], -1)[:, None, :])
        out["start"], out["end"] = chars[:, 0, 0], chars[:, 0, 1]
        return out

    def _pieces(self, text):
        """Token ids of `text` [B], each token's byte offsets and whether it starts a word: ragged [B, T].

        WordPiece: every piece carries its word's offsets. SentencePiece: each piece its own, less
        the whitespace a "▁" piece absorbs; a "▁" piece starts a word.
        """
        import tensorflow as tf
        import tensorflow_text as tf_text

        from kbert._compat import keras_hub as hub_compat
        from kbert.tokenizers import albert_normalize_tf, albert_offsets_to_original

        tok = self.tokenizer
        if not self.wordpiece:
            # ALBERT's preprocessing (do_lower_case / keep_accents, as the tokenizer applies it), offsets
            # mapped back from the normalised text to `text`.
            normalise = hasattr(tok, "keep_accents")
            settings = (bool(getattr(tok, "hf_lowercase", False)), bool(getattr(tok, "keep_accents", True)))
            normalised = albert_normalize_tf(text, *settings) if normalise else text
            ids, starts, ends = hub_compat.sentencepiece_op(tok).tokenize_with_offsets(normalised)
            starts, ends = tf.cast(starts, tf.int32), tf.cast(ends, tf.int32)
            if normalise:
                starts, ends = albert_offsets_to_original(text, starts, ends, *settings)
            pieces = tf.gather(tf.constant(tok.get_vocabulary()), ids.flat_values)
            first = tf.cast(tf.strings.regex_full_match(pieces, "\u2581.*"), tf.int32)
            covered = tf.strings.substr(tf.gather(text, starts.value_rowids()), starts.flat_values,
                                        ends.flat_values - starts.flat_values)
            lead = tf.strings.length(covered) - tf.strings.length(tf.strings.regex_replace(covered, r"^\s+", ""))
            starts = starts.with_flat_values(starts.flat_values + lead)
            return ids, starts, ends, ids.with_flat_values(first)
        split, keep = hub_compat.wordpiece_split_patterns(tok.split_on_cjk)
        words, starts, ends = tf_text.regex_split_with_offsets(text, split, keep)
        starts, ends = tf.cast(starts, tf.int32), tf.cast(ends, tf.int32)
        per_word = tok(words)  # [B, W, P]: each word re-split to itself, then WordPiece
        if isinstance(per_word, tf.RaggedTensor) and per_word.ragged_rank == 1:  # [B, W] words -> [B, W, P]
            per_word = tf.RaggedTensor.from_row_splits(per_word, words.row_splits)
        pieces = per_word.merge_dims(1, 2)
        word_of_piece = per_word.values.value_rowids()  # global word index of each piece
        rebatch = lambda v: tf.RaggedTensor.from_row_splits(v, pieces.row_splits)  # noqa: E731
        first = tf.cast(tf.ragged.range(per_word.values.row_lengths()).flat_values == 0, tf.int32)
        return (pieces, rebatch(tf.gather(starts.flat_values, word_of_piece)),
                rebatch(tf.gather(ends.flat_values, word_of_piece)), rebatch(first))

    # ----- token-id signature ----------------------------------------------------------------------
    def _from_ids(self, *tensors):
        import tensorflow as tf

        inputs = dict(zip(self.input_names, tensors))
        if self.spec.serving_outputs == "answer_span":
            sep = tf.constant(self.tokenizer.sep_token_id, tf.int32)
            ctx = (inputs.get("segment_ids", tf.ones_like(inputs["token_ids"])) == 1) & (inputs["padding_mask"] > 0)
            return self._qa_outputs(inputs, context_mask=ctx & (inputs["token_ids"] != sep))
        return self._outputs(inputs)

    # ----- task outputs ----------------------------------------------------------------------------
    def _model_inputs(self, token_ids, segment_ids):
        import tensorflow as tf

        inputs = {"token_ids": token_ids,
                  "padding_mask": tf.cast(token_ids != self.tokenizer.pad_token_id, tf.int32)}
        if "segment_ids" in self.input_names:
            inputs["segment_ids"] = segment_ids
        return inputs

    def _outputs(self, inputs):
        import tensorflow as tf

        inputs = {k: inputs[k] for k in self.input_names}
        kind = self.spec.serving_outputs
        if kind == "answer_span":
            return self._qa_outputs(inputs, context_mask=inputs.get("segment_ids", inputs["padding_mask"]) == 1)
        if self.buckets is not None and self.spec.length_free_labels:  # per-example outputs only
            from kbert.inference import trim_to_bucket

            inputs, _ = trim_to_bucket(inputs, self.buckets)
        outputs = self.model(inputs, training=False)
        if kind == "phone":  # the task's phone-facing outputs, as the TFLite file has them
            phone_inputs = {"ids": inputs["token_ids"], "mask": inputs["padding_mask"]}
            if "segment_ids" in inputs:
                phone_inputs["segment_ids"] = inputs["segment_ids"]
            return dict(self.spec.phone_graph(outputs, phone_inputs, self.md.meta))
        logits = outputs["logits"]
        probs = tf.sigmoid(logits) if self.multi_label else tf.nn.softmax(logits, axis=-1)
        label_ids = tf.argmax(probs, axis=-1, output_type=tf.int32)
        labels = tf.gather(tf.constant(self.labels), label_ids)
        if kind == "token_labels":
            real = inputs["padding_mask"] > 0
            return {"logits": logits, "probabilities": probs, "token_label_ids": tf.where(real, label_ids, -1),
                    "token_labels": tf.where(real, labels, "")}
        out = {"logits": logits, "probabilities": probs, "label_ids": label_ids, "labels": labels}
        if self.multi_label:
            out["active"] = probs >= 0.5
        return out

    def _qa_outputs(self, inputs, context_mask):
        """Best span (start <= end < start + max_answer_tokens) inside the context tokens."""
        import tensorflow as tf

        outputs = self.model(inputs, training=False)
        start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]
        neg = tf.constant(-1e9, start_logits.dtype)
        ls = tf.nn.log_softmax(tf.where(context_mask, start_logits, neg), axis=-1)
        le = tf.nn.log_softmax(tf.where(context_mask, end_logits, neg), axis=-1)
        length = tf.shape(start_logits)[1]
        band = tf.linalg.band_part(tf.ones([length, length], tf.bool), 0,
                                  tf.minimum(self.max_answer_tokens - 1, length))
        valid = band[None] & context_mask[:, :, None] & context_mask[:, None, :]
        scores = tf.where(valid, ls[:, :, None] + le[:, None, :], -float("inf"))
        flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
        best = tf.argmax(flat, axis=-1, output_type=tf.int32)
        found = tf.reduce_any(valid, axis=[1, 2])
        start_token = tf.where(found, best // length, -1)
        end_token = tf.where(found, best % length, -1)
        score = tf.where(found, tf.exp(tf.reduce_max(flat, axis=-1)), tf.zeros_like(ls[:, 0]))
        # SQuAD v2 models answer "no answer" at [CLS]: null - best span, in raw logits (kbert's postprocess).
        best_raw = (tf.gather(start_logits, tf.maximum(start_token, 0), batch_dims=1)
                    + tf.gather(end_logits, tf.maximum(end_token, 0), batch_dims=1))
        null_diff = tf.where(found, start_logits[:, 0] + end_logits[:, 0] - best_raw, 1e9)
        return {"start_logits": start_logits, "end_logits": end_logits, "start_token": start_token,
                "end_token": end_token, "score": score, "null_score_diff": null_diff}


def task_needs_offsets(task: str) -> bool:
    return task_spec(task).serving_outputs in OFFSET_OUTPUTS


def task_spec(task: str):
    """The task's registry entry (its export contract, `kbert.tasks.contract`)."""
    from kbert.tasks.registry import export_spec

    return export_spec(task)


def _input_names(model) -> list[str]:
    names = [t if isinstance(t, str) else getattr(t, "name", None) for t in _flat_inputs(model)]
    order = ("token_ids", "padding_mask", "segment_ids")
    found = [n for n in order if n in names]
    if "token_ids" not in found or "padding_mask" not in found:
        raise KbertInputError(f"model inputs {names} do not follow the task model contract "
                              "(token_ids, padding_mask[, segment_ids])")
    return found


def _flat_inputs(model):
    inputs = model.input
    if isinstance(inputs, dict):
        return list(inputs)
    return inputs if isinstance(inputs, (list, tuple)) else [inputs]


def clean_utf8(text):
    """Replace bytes that are not valid UTF-8 with U+FFFD (tokenizers reject them)."""
    import tensorflow as tf

    return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)


def char_offsets(text, byte_offsets):
    """Byte offsets [B, ...] (-1: none) into valid UTF-8 `text` [B] -> code-point offsets."""
    import tensorflow as tf

    _, char_starts = tf.strings.unicode_decode_with_offsets(text, "UTF-8")
    starts = char_starts.to_tensor(default_value=tf.int64.max)
    flat = tf.reshape(tf.cast(byte_offsets, tf.int64), [tf.shape(byte_offsets)[0], -1])
    search = lambda: tf.cast(tf.searchsorted(starts, flat, side="left"), tf.int32)  # noqa: E731
    chars = tf.cond(tf.shape(flat)[0] > 0, search, lambda: tf.zeros_like(flat, tf.int32))  # LowerBound fails on 0 rows
    chars = tf.where(flat < 0, -1, chars)
    return tf.reshape(chars, tf.shape(byte_offsets))
