import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def write_austen_excerpt(tmp_path_factory, name: str, chapters: int) -> str:
    """A folder holding the first `chapters` chapters of the bundled corpus as one text file."""
    import itertools

    from kbert.data import corpus

    d = tmp_path_factory.mktemp(name)
    (d / "austen.txt").write_text("\n\n".join(itertools.islice(corpus.bundled_documents(), chapters)))
    return str(d)
