import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def write_austen_excerpt(tmp_path_factory, name: str, chapters: int) -> str:
    """A folder holding the first `chapters` chapters of the bundled corpus as one text file."""
    import itertools

    from kbert.data import corpus

    d = tmp_path_factory.mktemp(name)
    (d / "austen.txt").write_text("\n\n".join(itertools.islice(corpus.bundled_documents(), chapters)))
    return str(d)


def _trace(logdir, jit_compile: bool) -> str:
    """A TF profiler trace in `logdir` of 3 calls of a small tf.function (a matmul, relu, scale and add), traced
    after one untraced call that compiles it."""
    import tensorflow as tf

    f = tf.function(lambda a, b: tf.nn.relu(tf.matmul(a, b)) * 2.0 + 1.0, jit_compile=jit_compile)
    a = tf.random.normal((256, 256))
    f(a, a)
    tf.profiler.experimental.start(str(logdir))
    for _ in range(3):
        f(a, a)
    tf.profiler.experimental.stop()
    return str(logdir)


@pytest.fixture
def jit_trace(tmp_path):
    """A trace of an XLA-compiled function: one event per HLO thunk."""
    return _trace(tmp_path, jit_compile=True)


@pytest.fixture
def graph_trace(tmp_path):
    """A trace of the same function without XLA: TF's executor runs each op as a "node:OpType" event."""
    return _trace(tmp_path, jit_compile=False)
