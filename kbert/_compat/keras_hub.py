"""keras-hub internals kbert uses: its string-input helpers, the tanh GELU, a TransformerEncoder's
feed-forward Dense, the WordPiece split regexes and a SentencePiece tokenizer's tf-text op."""

from __future__ import annotations

from kbert._compat import check, require, version

PACKAGE = "keras-hub"


def map_python_strings(inputs, fn):
    """Apply `fn` to every Python string of a keras-hub tokenizer input (str, list, nested list),
    keeping its shape: keras-hub's own canonicalisation, so eager tokenizers accept what it accepts."""
    touch = "HF normalisation on Python strings (keras_hub tensor_utils)"
    check(PACKAGE, touch)
    from keras_hub.src.utils import tensor_utils

    canonicalize = require(tensor_utils, "canonicalize_python_string_inputs", PACKAGE, touch)
    restore = require(tensor_utils, "restore_outer_shape", PACKAGE, touch)
    flat, batched, outer_shape = canonicalize(inputs)
    flat = [fn(t) for t in flat]
    if outer_shape is not None:
        return restore(flat, outer_shape)
    return flat if batched else flat[0]


def gelu_approximate():
    """keras-hub's registered tanh-GELU function (serializable by name, unlike a lambda)."""
    touch = "tanh GELU for the MLM head (keras_hub keras_utils)"
    check(PACKAGE, touch)
    from keras_hub.src.utils import keras_utils

    return require(keras_utils, "gelu_approximate", PACKAGE, touch)


def feedforward_dense(layer):
    """The first (intermediate) Dense of a keras-hub `TransformerEncoder`'s feed-forward block."""
    return require(layer, "_feedforward_intermediate_dense", PACKAGE,
                   "setting the GELU variant of a TransformerEncoder")


def wordpiece_split_patterns(split_on_cjk: bool) -> tuple[str, str]:
    """keras-hub WordPiece pre-tokenizer regexes: (split pattern, keep pattern)."""
    touch = "WordPiece byte offsets in the serving signature"
    check(PACKAGE, touch)
    from keras_hub.src.tokenizers import word_piece_tokenizer as wp

    if split_on_cjk:
        return (require(wp, "WHITESPACE_PUNCTUATION_AND_CJK_REGEX", PACKAGE, touch),
                require(wp, "PUNCTUATION_AND_CJK_REGEX", PACKAGE, touch))
    return (require(wp, "WHITESPACE_AND_PUNCTUATION_REGEX", PACKAGE, touch),
            require(wp, "PUNCTUATION_REGEX", PACKAGE, touch))


def sentencepiece_op(tokenizer):
    """The tf-text `SentencepieceTokenizer` inside a keras-hub `SentencePieceTokenizer` (for offsets)."""
    return require(tokenizer, "_sentence_piece", PACKAGE, "SentencePiece byte offsets in the serving signature")


# The first keras-hub whose preprocessing layers have a pure-Python path beside the TensorFlow one
# (`PreprocessingLayer._use_tf_workflow`); 0.21-0.31 have no such method and always run TensorFlow
# (checked in the 0.21.1 ... 0.31.1 wheels; scripts/smoke_lower_bounds.sh runs 0.21).
PYTHON_WORKFLOW_SINCE = (0, 32)


def use_tf_workflow(layer) -> bool:
    """Whether a keras-hub preprocessing layer runs its TensorFlow path (inside tf.function / tf.data, or
    when built for it) rather than its pure-Python one: kbert's normalisation must pick the same path."""
    touch = "choosing a tokenizer's TF or Python path"
    check(PACKAGE, touch)
    if version(PACKAGE) < PYTHON_WORKFLOW_SINCE:
        return True
    return bool(require(layer, "_use_tf_workflow", PACKAGE, touch)())
