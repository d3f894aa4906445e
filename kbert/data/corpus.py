"""Text corpora for pretraining, streamed: plain-text files and folders, TFDS datasets, the bundled corpus.

A *document* is one file, or one blank-line-separated block of a file (lines inside a block are
joined with spaces). Documents are read lazily, file by file and line by line: nothing holds a whole
corpus in memory, so a corpus larger than memory streams through `tf.data`.

    >>> from kbert.data import corpus
    >>> c = corpus.open_corpus("bundled")              # Jane Austen's novels, ~4 MB, public domain
    >>> doc = next(iter(c))                            # one chapter
    >>> ds = corpus.text_dataset("bundled")            # tf.data.Dataset of document strings

Bad input: empty files and binary / non-UTF-8 files are skipped with a warning and counted in
`Corpus.stats`; a source with no usable document raises `KbertInputError` naming what was tried.
TFDS: `tfds_dataset("wikipedia/20230601.en")`, `tfds_dataset("wiki40b/en")`, and BookCorpus through TFDS's
Hugging Face bridge, `tfds_dataset("huggingface:bookcorpus")` (all download via `tfds.load`).
"""

from __future__ import annotations

import codecs
import logging
import os
from dataclasses import dataclass, field

from kbert.errors import KbertInputError

log = logging.getLogger(__name__)

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
BUNDLED_FILE = os.path.join(BUNDLED_DIR, "austen.txt")
TEXT_EXTENSIONS = (".txt", ".text", ".md", ".rst", "")
_SNIFF = 8192


@dataclass
class CorpusStats:
    """Counts kept while streaming: files read and skipped (with reasons), documents yielded."""

    files_read: int = 0
    documents: int = 0
    skipped: dict = field(default_factory=dict)  # path -> reason

    @property
    def files_skipped(self) -> int:
        return len(self.skipped)

    def skip(self, path, reason):
        if path not in self.skipped:
            self.skipped[path] = reason
            log.warning("kbert corpus: skipping %s (%s); %d file(s) skipped so far", path, reason, len(self.skipped))


def bundled() -> str:
    """Path of the bundled corpus file (Jane Austen's novels; chapters separated by blank lines)."""
    if not os.path.isfile(BUNDLED_FILE):
        raise KbertInputError(f"the bundled corpus is missing ({BUNDLED_FILE}); run scripts/extract_austen.py")
    return BUNDLED_FILE


def bundled_documents():
    """The bundled corpus's documents (chapters), streamed."""
    return iter(open_corpus("bundled"))


def list_files(source) -> list[str]:
    """Resolve "bundled", a file, a folder (recursively, text-like names) or a list of these to files."""
    if isinstance(source, (list, tuple)):
        files = []
        for s in source:
            files.extend(list_files(s))
        return files
    source = os.fspath(source)
    if source == "bundled":
        return [bundled()]
    if os.path.isfile(source):
        return [source]
    if os.path.isdir(source):
        files = []
        for root, dirs, names in os.walk(source):
            dirs.sort()
            for n in sorted(names):
                if not n.startswith(".") and os.path.splitext(n)[1].lower() in TEXT_EXTENSIONS:
                    files.append(os.path.join(root, n))
        if not files:
            raise KbertInputError(f"no text files (*.txt, *.md, ...) in folder {source}")
        return files
    raise KbertInputError(f"corpus not found: {source!r} is neither 'bundled', a file nor a folder")


def check_file(path) -> str | None:
    """Why `path` is unusable ("empty", "binary", "not UTF-8 ..."), or None if it is readable text.

    Reads the file in chunks (never whole) to validate UTF-8 before any of it is used.
    """
    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        decoder = codecs.getincrementaldecoder("utf-8")()
        nonblank = False
        with open(path, "rb") as f:
            first = True
            while chunk := f.read(1 << 20):
                if first and b"\x00" in chunk[:_SNIFF]:
                    return "binary file (NUL bytes)"
                first = False
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    return f"not UTF-8 text ({e.reason})"
                nonblank = nonblank or bool(text.strip())
            decoder.decode(b"", final=True)
        return None if nonblank else "only whitespace"
    except UnicodeDecodeError as e:
        return f"not UTF-8 text ({e.reason} at the end)"
    except OSError as e:
        return f"unreadable ({e.strerror})"


def read_documents(path, min_chars: int = 1):
    """Yield the blank-line-separated documents of one text file, line by line."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(line)
            elif lines:
                doc = " ".join(lines)
                lines = []
                if len(doc) >= min_chars:
                    yield doc
    if lines:
        doc = " ".join(lines)
        if len(doc) >= min_chars:
            yield doc


class Corpus:
    """An iterable over the documents of plain-text files; re-iterable (each pass streams again).

    Args:
        source: "bundled", a file, a folder, or a list of them.
        min_chars: drop documents shorter than this.
    """

    def __init__(self, source, min_chars: int = 1):
        self.source = source
        self.files = list_files(source)
        self.min_chars = int(min_chars)
        self.stats = CorpusStats()
        if not any(check_file(p) is None for p in self.files):
            reasons = "; ".join(f"{p}: {check_file(p)}" for p in self.files[:5])
            raise KbertInputError(f"no usable text in corpus {source!r} ({len(self.files)} file(s): {reasons})")

    def __iter__(self):
        self.stats = CorpusStats()
        for path in self.files:
            reason = check_file(path)
            if reason:
                self.stats.skip(path, reason)
                continue
            self.stats.files_read += 1
            for doc in read_documents(path, self.min_chars):
                self.stats.documents += 1
                yield doc
        if self.stats.documents == 0:
            raise KbertInputError(f"corpus {self.source!r} has no document of at least {self.min_chars} characters")

    def __repr__(self):
        return f"Corpus({self.source!r}, files={len(self.files)})"


def open_corpus(source, min_chars: int = 1) -> Corpus:
    """A `Corpus` over plain-text files ("bundled", a file, a folder or a list)."""
    return Corpus(source, min_chars)


def text_dataset(source, min_chars: int = 1):
    """A `tf.data.Dataset` of document strings streamed from `source`.

    `source` may be a `Corpus`, anything `open_corpus` takes, `"tfds:NAME[:SPLIT]"`, or a
    `tf.data.Dataset` of strings (returned as is).
    """
    import tensorflow as tf

    if isinstance(source, tf.data.Dataset):
        return source
    if isinstance(source, str) and source.startswith("tfds:"):
        parts = source.split(":")
        return tfds_dataset(parts[1], split=parts[2] if len(parts) > 2 else "train")
    c = source if isinstance(source, Corpus) else open_corpus(source, min_chars)
    return tf.data.Dataset.from_generator(lambda: iter(c), output_signature=tf.TensorSpec([], tf.string))


def tfds_dataset(name: str, split: str = "train", text_key: str | None = None, data_dir: str | None = None,
                 download: bool = True):
    """Documents of a TFDS text dataset (`wikipedia/20230601.en`, `huggingface:bookcorpus`, ...) as strings.

    `text_key` picks the text feature; by default "text" when present, else the only string feature.
    Download or preparation failures become a `KbertInputError` naming the dataset.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        ds, info = tfds.load(name, split=split, data_dir=data_dir, download=download, with_info=True,
                             shuffle_files=False)
    except Exception as e:  # DatasetNotFoundError, network failures, missing manual downloads, ...
        raise KbertInputError(f"TFDS dataset {name!r} (split {split!r}) could not be loaded: "
                              f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
                              ) from e
    spec = ds.element_spec
    if not isinstance(spec, dict):
        if spec.dtype != tf.string:
            raise KbertInputError(f"TFDS dataset {name!r} does not yield text")
        return ds
    strings = [k for k, v in spec.items() if getattr(v, "dtype", None) == tf.string and v.shape.rank == 0]
    key = text_key or ("text" if "text" in strings else (strings[0] if len(strings) == 1 else None))
    if key is None or key not in spec:
        raise KbertInputError(f"TFDS dataset {name!r}: choose text_key among {strings or list(spec)}")
    return ds.map(lambda ex: ex[key], num_parallel_calls=tf.data.AUTOTUNE)
