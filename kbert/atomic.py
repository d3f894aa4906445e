"""Publishing a directory atomically: write it completely under a temporary name in the same
folder, then rename it into place, so a reader (TF Serving polling a model base, an exporter
reading a model directory) never sees half of it. `FileLock` lets one process at a time claim a
name (a serving version) across processes."""

import contextlib
import os
import shutil
import tempfile


def publish_dir(tmp: str, target: str, replace: bool = True) -> None:
    """Rename the complete directory `tmp` to `target`.

    An existing `target` is swapped out with two renames (absent for an instant, never
    half-written) and put back if the second rename fails; the old copy is then deleted.
    With `replace=False` an existing `target` is never touched: `FileExistsError`. The published
    files get the user's umask (temporary folders are created 0700, which would lock out a TF
    Serving or web server running as another user).
    """
    apply_umask(tmp)
    if not os.path.exists(target):
        if not replace:
            os.rename(tmp, target)  # rename(2) refuses a non-empty target directory (ENOTEMPTY)
        else:
            os.replace(tmp, target)
        return
    if not replace:
        raise FileExistsError(f"{target} exists")
    parent = os.path.dirname(os.path.abspath(target))
    old = os.path.join(parent, f".old-{os.path.basename(target)}-{os.path.basename(tmp)}")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def umask() -> int:
    """The process's umask (read without changing it where Linux tells it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str, suffix: str = ".tmp"):
    """Yield a temporary path in `path`'s folder; when the block ends without an error it becomes `path` (one
    rename, with the mode a plain `open` would give), otherwise it is removed and `path` is left as it was.

        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with atomic_file(target) as tmp:
        ...     _ = open(tmp, "w").write("done")
        >>> open(target).read(), oct(os.stat(target).st_mode & 0o777) == oct(0o666 & ~umask())
        ('done', True)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def apply_umask(root: str) -> None:
    """Give `root` and everything under it the modes a plain `open`/`mkdir` would have (0666/0777 & ~umask)."""
    mask = umask()
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o777 & ~mask)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o666 & ~mask)


class FileLock:
    """An advisory lock on the file `path` (`flock`), held by this process until `release`.

    The kernel drops the lock when its holder dies (SIGKILL included), so a killed run never leaves a
    stale lock behind; the lock file itself is removed on `release`.

        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), ".lock")
        >>> a, b = FileLock(path), FileLock(path)
        >>> a.acquire(), b.acquire()
        (True, False)
        >>> a.release(); b.acquire()
        True
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self._fd = None

    def acquire(self) -> bool:
        """Take the lock if no other holder has it; True when taken (never waits)."""
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the previous holder may have removed the file between our open and flock
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.remove(self.path)  # while still holding it, so no one takes a lock on a removed file
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
