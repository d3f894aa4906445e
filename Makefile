# The two commands a newcomer types. Each bootstraps .venv/ (Debian packages, pip, the --no-deps
# pieces, real assets) if needed, then runs.
.PHONY: quickstart test test-fast bootstrap bench

bootstrap:
	@bash scripts/bootstrap.sh

quickstart: bootstrap
	.venv/bin/kbert quickstart

test: bootstrap
	.venv/bin/python -m pytest -q --durations=15

test-fast: bootstrap
	.venv/bin/python -m pytest -q -m "not slow"

bench: bootstrap
	.venv/bin/kbert bench all --quick
