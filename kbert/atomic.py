"""Publishing a directory atomically: write it completely under a temporary name in the same
folder, then rename it into place, so a reader (TF Serving polling a model base, an exporter
reading a model directory) never sees half of it."""

import os
import shutil


def publish_dir(tmp: str, target: str) -> None:
    """Rename the complete directory `tmp` to `target`.

    An existing `target` is swapped out with two renames (absent for an instant, never
    half-written) and put back if the second rename fails; the old copy is then deleted.
    """
    if not os.path.exists(target):
        os.replace(tmp, target)
        return
    parent = os.path.dirname(os.path.abspath(target))
    old = os.path.join(parent, f".old-{os.path.basename(target)}-{os.path.basename(tmp)}")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
