#!/usr/bin/env bash
# Create .venv-tasklib/: the TFLite Task Library (tflite-support 0.4.4) in its own venv.
# Its Python bindings need protobuf 3.20.x, which TensorFlow in .venv cannot share, so the tests
# run scripts/tasklib_runner.py inside this venv as a subprocess. Idempotent (a stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=.venv-tasklib
stamp=$VENV/.kbert-stamp
want=$(sha256sum scripts/make_tasklib_venv.sh | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x $VENV/bin/python ] || "$PY" -m venv $VENV
# pipefail: grep filters pip's warnings but pip's own exit status still stops the script.
$VENV/bin/python -m pip install -q --upgrade pip 2>&1 | { grep -v -i warning || true; }
echo "make_tasklib_venv: pip install tflite-support==0.4.4 protobuf==3.20.3 (no TensorFlow)"
$VENV/bin/python -m pip install -q "tflite-support==0.4.4" "protobuf==3.20.3" "numpy<2" "flatbuffers<24" \
  2>&1 | { grep -v -i warning || true; }
$VENV/bin/python -c "from tflite_support.task import text; text.BertNLClassifier; text.BertQuestionAnswerer"
echo "$want" > "$stamp"
