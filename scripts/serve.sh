#!/usr/bin/env bash
# Sets everything up, then runs the main job on embedded defaults: the hub server (`tfhub serve`:
# SQLite + a storage folder in the user data directory, 127.0.0.1:8080, example models of both
# formats published on first start). Extra arguments go to `tfhub serve` (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python -m tfhub serve "$@"
