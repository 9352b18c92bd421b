#!/usr/bin/env bash
# Sets up .venv exactly as uv.lock pins it (Python 3.11, TensorFlow 2.21, every extra).
# Needs only Python 3.11 and access to PyPI. Safe to run again: it only syncs.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1

python=""
for candidate in python3.11 python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    python=$(command -v "$candidate"); break
  fi
done
[ -n "$python" ] || { echo "setup: Python 3.11 is required (python3.11 not found)" >&2; exit 1; }

uv=""
if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  uv=$(command -v uv)
elif [ -x .tools/bin/uv ] && [ "$(.tools/bin/uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  uv=.tools/bin/uv
else
  echo "setup: installing uv $UV_VERSION into .tools/" >&2
  "$python" -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  uv=.tools/bin/uv
fi

"$uv" sync --locked --all-extras --compile-bytecode --python "$python" --quiet
