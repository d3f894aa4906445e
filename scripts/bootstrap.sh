#!/usr/bin/env bash
# Create .venv/ in the repo and install everything kbert's recipes and tests need.
# Idempotent: a stamp records what was installed; re-running after a change reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

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

stamp=.venv/.kbert-stamp
want=$(cat setup.py scripts/bootstrap.sh scripts/make_tasklib_venv.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip 2>&1 | grep -v -i "warning" || true
echo "bootstrap: pip install -e .[test,parity,mobile,tasks,serving] (TensorFlow, keras-hub, torch CPU, ...)"
$PIP install -q -e ".[test,parity,mobile,tasks,serving]" 2>&1 | grep -v -E "WARNING: Location|is ignored" || true
# Pieces whose declared dependencies conflict with TensorFlow's (DEVELOPERS.md): no deps.
$PIP install -q --no-deps tflite-support==0.4.4 2>&1 | grep -v -E "WARNING: Location|is ignored" || true
.venv/bin/python -c "import kbert, tensorflow, keras_hub, tensorflow_text" >/dev/null
# Real assets (MiniLM checkpoint, gensim test data, sentiment tweets, WNUT-16), cached once.
.venv/bin/python -m kbert.assets fetch
bash scripts/make_tasklib_venv.sh
echo "$want" > "$stamp"
