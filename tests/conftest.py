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


@pytest.fixture
def jit_trace(tmp_path):
    """A TF profiler trace directory holding 3 calls of a small XLA-compiled function (a matmul, relu, scale and
    add), traced after one untraced call that compiles it."""
    import tensorflow as tf

    f = tf.function(lambda a, b: tf.nn.relu(tf.matmul(a, b)) * 2.0 + 1.0, jit_compile=True)
    a = tf.random.normal((256, 256))
    f(a, a)
    tf.profiler.experimental.start(str(tmp_path))
    for _ in range(3):
        f(a, a)
    tf.profiler.experimental.stop()
    return str(tmp_path)
