"""Keep the terminal's stderr for kbert's own messages: TensorFlow, CUDA and absl write their start-up
lines ("failed call to cuInit", oneDNN notices, "All log messages before absl::InitializeLog()") from
native code straight to file descriptor 2, and Keras warns about input structures through Python's
`warnings`. `quiet_stderr()` sends fd 2 to a log file (`~/.cache/kbert/logs/stderr.log`, replaced
each run) while Python's `sys.stderr` keeps the terminal, and silences TF/Keras warnings and log
records below ERROR. `kbert --debug` leaves everything as it is.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

NOISY = r"(keras|keras_hub|tensorflow|tensorflow_text|tf_keras|absl|h5py)(\.|$)"


def log_path() -> str:
    root = os.environ.get("KBERT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kbert"))
    return os.path.join(root, "logs", "stderr.log")


@contextlib.contextmanager
def quiet_stderr(native: bool = True):
    """Silence TF/Keras Python warnings and logs; with `native`, also fd 2 (when it is the terminal's)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=NOISY)
        loggers = {name: logging.getLogger(name) for name in ("tensorflow", "absl", "keras", "h5py")}
        levels = {name: lg.level for name, lg in loggers.items()}
        for lg in loggers.values():
            lg.setLevel(logging.ERROR)
        redirect = _redirect_fd2() if native else contextlib.nullcontext()
        try:
            with redirect:
                yield
        finally:
            for name, lg in loggers.items():
                lg.setLevel(levels[name])


@contextlib.contextmanager
def _redirect_fd2():
    try:
        python_stderr_is_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        python_stderr_is_fd2 = False
    try:
        os.makedirs(os.path.dirname(log_path()), exist_ok=True)
        log = os.open(log_path(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        log = os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    saved = os.dup(2)
    old_stderr = sys.stderr
    if python_stderr_is_fd2:  # Python keeps writing to the terminal through a copy of the old fd 2
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding=old_stderr.encoding,
                                      errors="backslashreplace", line_buffering=True)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        if python_stderr_is_fd2:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = old_stderr
        os.dup2(saved, 2)
        os.close(saved)
