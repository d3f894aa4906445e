"""SentencePiece models that survive `keras.utils.set_random_seed` (tensorflow/text#570).

tf-text's `SentencepieceTokenizer` keeps its model in a resource owned by the eager kernel that created it.
`tf.random.set_seed` (which `keras.utils.set_random_seed` calls) clears the eager kernel cache, the kernel
dies and takes the resource with it, and every tf.data pipeline or traced function that captured the handle
fails later, deep inside `fit`, with "Resource localhost/_0_SentencepieceOp/... does not exist". Seeding
after building the pipeline is the natural order in a training script.

`make_durable()` gives each SentencePiece resource a unique `shared_name`: a named resource belongs to the
resource manager, not to the kernel, so it outlives the kernel cache. kbert calls it wherever it builds or
loads a SentencePiece tokenizer (`kbert.tokenizers.sentencepiece`, `from_folder`, model loading), never at
import time. SavedModels keep the unique name they were traced with, so two different models never share one.
"""

from __future__ import annotations

import itertools
import uuid

from kbert._compat import check

_counter = itertools.count()
_PREFIX = f"kbert_spm_{uuid.uuid4().hex}"  # unique per process; the counter per tokenizer
TOUCH = "durable SentencePiece resources (tensorflow/text#570)"


def make_durable() -> bool:
    """Patch tf-text's SentencePiece model resource to use a unique `shared_name` (idempotent). Returns
    False (and changes nothing) if tf-text is not installed."""
    try:
        from tensorflow.python.framework import ops
        from tensorflow_text.python.ops import sentencepiece_tokenizer as spt
    except ImportError:
        return False
    check("tensorflow-text", TOUCH)
    cls = getattr(spt, "_SentencepieceModelResource", None)
    gen = getattr(spt, "gen_sentencepiece_tokenizer", None)
    if cls is None or gen is None:
        from kbert._compat import CompatError

        raise CompatError(f"{TOUCH}: this tensorflow-text has no _SentencepieceModelResource")
    if getattr(cls, "_kbert_durable", False):
        return True

    def _create_resource(self):
        with ops.name_scope(self._name, "SentenceTokenizerInitializer", [self._model]):
            return gen.sentencepiece_op(model=self._model, shared_name=f"{_PREFIX}_{next(_counter)}")

    cls._create_resource = _create_resource
    cls._kbert_durable = True
    return True
