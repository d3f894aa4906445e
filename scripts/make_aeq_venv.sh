#!/usr/bin/env bash
# Create .venv-aeq/: Google's ai-edge-quantizer for bench/int8_spike.py, kept out of .venv because it
# pins ai-edge-litert and pulls litert-lm-builder. The venv installs only those packages (no deps) and
# reads everything else (TensorFlow, numpy, LiteRT) from the project's venv through a .pth file, so it
# costs a few MB. Idempotent (a stamp file); any failing step stops the script with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
MAIN=${KBERT_VENV:-.venv}
VENV=.venv-aeq
stamp=$VENV/.kbert-stamp
want=$(sha256sum scripts/make_aeq_venv.sh | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$MAIN/bin/python" ] || { echo "make_aeq_venv: $MAIN/bin/python not found (run make bootstrap first)" >&2; exit 1; }
[ -x $VENV/bin/python ] || "$PY" -m venv $VENV
echo "make_aeq_venv: pip install --no-deps ai-edge-quantizer==0.10.0 litert-lm-builder==0.18.1 tomli"
$VENV/bin/python -m pip install -q --no-deps "ai-edge-quantizer==0.10.0" "litert-lm-builder==0.18.1" "tomli" \
  2>&1 | { grep -v -i -E "warning|notice" || true; }
site=$("$MAIN/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
own=$($VENV/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$site" > "$own/zz_kbert_main_venv.pth"
$VENV/bin/python -c "from ai_edge_quantizer import quantizer, recipe; import tensorflow"
echo "$want" > "$stamp"
