#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: lint, types, then every test.
# Fails if any step fails, and (tests/conftest.py) if no test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_deps.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
