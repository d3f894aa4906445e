#!/usr/bin/env bash
# Lower-bound smoke test: install the LOWEST versions kbert's ranges claim (kbert/_compat/__init__.py,
# TESTED; setup.py derives its install ranges from it) into a fresh venv outside the checkout, install
# kbert from the checkout (not editable) in the same resolve, and run scripts/smoke_lower_bounds.py
# (import, version checks, tiny BERT + ALBERT fit/save/load, TFLite dynamic-int8 on LiteRT, serving
# SavedModel on raw strings) and tests/test_compat.py + tests/test_compat_export.py (one test per
# private-API touch) there.
#
#   make smoke-lower                      # or: bash scripts/smoke_lower_bounds.sh
#   KBERT_LOWER_VENV=/tmp/x bash scripts/smoke_lower_bounds.sh   # another venv path (outside the checkout)
#   KBERT_LOWER_REUSE=1 make smoke-lower   # keep the venv, reinstall only kbert (after a kbert change)
#
# Any pip failure stops the script with a non-zero exit. Needs network (about 1 GB of wheels; pip's
# cache makes re-runs cheap) and about 5 minutes of CPU. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=${KBERT_LOWER_VENV:-/tmp/kbert-lower}

# The lowest version of each ranged dependency (tests/test_packaging.py checks these equal TESTED's
# lower ends, so the two cannot drift apart).
LOWER_PINS=(
  "tensorflow==2.18.*"
  "tensorflow-text==2.18.*"
  "keras==3.10.*"
  "keras-hub==0.21.*"
  "ai-edge-litert==2.0.*"
)
# Not ranged by TESTED, but needed by the serving step (warmup requests); same minor as tensorflow.
EXTRA_PINS=("tensorflow-serving-api==2.18.*" pytest)

case "$VENV" in "$REPO"|"$REPO"/*) echo "smoke-lower: venv $VENV must be outside the checkout" >&2; exit 2;; esac

pip_step() {
  "$@" 2>&1 | { grep -v -E "WARNING: Location|is ignored|WARNING: Running pip as|notice\]" || true; } \
    || { status=$?; echo "smoke-lower: FAILED (exit $status): $*" >&2; exit "$status"; }
}

if [ "${KBERT_LOWER_REUSE:-0}" != 1 ]; then
  if [ -e "$VENV" ]; then
    [ -f "$VENV/pyvenv.cfg" ] || { echo "smoke-lower: $VENV exists and is not a venv; not removing it" >&2; exit 2; }
    rm -rf "$VENV"
  fi
  "$PY" -m venv "$VENV"
  pip_step "$VENV/bin/python" -m pip install -q --upgrade pip
  # One resolve: the lower pins AND kbert's own install_requires, so this also proves setup.py's ranges
  # accept the lower set. The checkout is installed as a regular (not editable) package.
  echo "smoke-lower: pip install ${LOWER_PINS[*]} ${EXTRA_PINS[*]} $REPO  (into $VENV)"
  pip_step "$VENV/bin/python" -m pip install -q "${LOWER_PINS[@]}" "${EXTRA_PINS[@]}" "$REPO"
  pip_step "$VENV/bin/python" -m pip check
else
  # KBERT_LOWER_REUSE=1: keep the venv's libraries, reinstall only kbert from the checkout.
  pip_step "$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$REPO"
fi

# Run from outside the checkout so `import kbert` is the installed copy, not the source tree.
cd "$VENV"
echo "smoke-lower: installed versions"
"$VENV/bin/python" -m pip list 2>/dev/null | grep -i -E "^(tensorflow|tensorflow-text|tensorflow-serving-api|keras|keras-hub|ai-edge-litert|numpy|protobuf|ml-dtypes|keras-kbert) " \
  | sed 's/^/  /'
status=0
KBERT_SMOKE_INSTALLED=1 "$VENV/bin/python" "$REPO/scripts/smoke_lower_bounds.py" || status=$?
echo "smoke-lower: tests/test_compat.py tests/test_compat_export.py (one test per private-API touch)"
# -p no:cacheprovider: write nothing into the checkout; the tests import the installed kbert.
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$REPO" -rs \
  "$REPO/tests/test_compat.py" "$REPO/tests/test_compat_export.py" || status=$?
if [ "$status" != 0 ]; then echo "smoke-lower: FAILED (see the lines above)" >&2; exit "$status"; fi
echo "smoke-lower: OK"
