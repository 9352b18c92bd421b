"""The test side of compatibility-mode tests: run a script in a fresh interpreter (TF1 mode
is process-wide) and return the JSON of its one ``RESULT`` line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_compat_script(scripts: Path, name: str, *args: Any, timeout: float) -> dict[str, Any]:
    """Runs ``scripts/<name>.py args...``; fails the test with its output unless it exits 0
    with exactly one ``RESULT`` line."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    proc = subprocess.run(
        [sys.executable, str(scripts / f"{name}.py"), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and len(results) == 1, (
        f"{name} {args} exited with {proc.returncode}:\n{proc.stdout[-2000:]}\n"
        f"{proc.stderr[-4000:]}"
    )
    return dict(json.loads(results[0].removeprefix("RESULT ")))
