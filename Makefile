# The two commands a newcomer types. Each bootstraps .venv/ (Debian packages, pip, the --no-deps
# pieces, real assets) if needed, then runs.
.PHONY: quickstart test test-fast bootstrap bench smoke-lower

bootstrap:
	@bash scripts/bootstrap.sh

quickstart: bootstrap
	.venv/bin/kbert quickstart

test: bootstrap
	.venv/bin/python -m pytest -q --durations=15

test-fast: bootstrap
	.venv/bin/python -m pytest -q -m "not slow"

# The bench extra (onnxruntime, onnx, onnxscript, scikit-learn) puts ONNX Runtime beside torch and kbert;
# a failed install stops here instead of benchmarking without it.
bench: bootstrap
	.venv/bin/python -c "import onnxruntime, onnx, onnxscript, sklearn" 2>/dev/null \
		|| .venv/bin/python -m pip install -q -e ".[bench]"
	.venv/bin/kbert bench all --quick

# The lowest versions kbert claims (kbert/_compat TESTED) in a fresh venv outside the checkout
# (KBERT_LOWER_VENV, default /tmp/kbert-lower): ~1 GB of wheels and ~5 minutes; not part of `make test`.
smoke-lower:
	@bash scripts/smoke_lower_bounds.sh
