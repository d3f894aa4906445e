#!/usr/bin/env bash
# Create .venv/ in the repo and install everything kbert's recipes and tests need.
# Idempotent: a stamp records what was installed; re-running after a change reinstalls.
# Any failing step stops the script with a non-zero exit (pipefail: filtering pip's noise through
# grep never hides pip's exit status). KBERT_VENV picks another venv path (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=${KBERT_VENV:-.venv}

# Run a pip command, showing its output without known noise; exit with pip's status if it fails.
pip_step() {
  "$@" 2>&1 | { grep -v -E "WARNING: Location|is ignored|WARNING: Running pip as|notice\]" || true; } \
    || { status=$?; echo "bootstrap: FAILED (exit $status): $*" >&2; exit "$status"; }
}

# Debian packages: libusb for tflite-support's metadata writers.
need_apt=()
for pkg in libusb-1.0-0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "bootstrap: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=$VENV/.kbert-stamp
want=$(cat setup.py scripts/bootstrap.sh scripts/make_tasklib_venv.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
pip_step "${PIP[@]}" install -q --upgrade pip
echo "bootstrap: pip install -e .[test,parity,mobile,tasks,serving] (TensorFlow, keras-hub, torch CPU, ...)"
pip_step "${PIP[@]}" install -q -e ".[test,parity,mobile,tasks,serving]"
# Pieces whose declared dependencies conflict with TensorFlow's (DEVELOPERS.md): no deps.
pip_step "${PIP[@]}" install -q --no-deps tflite-support==0.4.4
"$VENV/bin/python" -c "import kbert, tensorflow, keras_hub, tensorflow_text" >/dev/null
# Real assets (MiniLM checkpoint, gensim test data, sentiment tweets, WNUT-16), cached once and
# checked against the sha256 pinned in kbert/assets.py.
"$VENV/bin/python" -m kbert.assets fetch
bash scripts/make_tasklib_venv.sh
echo "$want" > "$stamp"
