"""The README's main job runs end to end: build, pack, serve on 127.0.0.1, resolve, load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_builds_serves_resolves_and_loads_a_model(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TFHUB_CACHE_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "tfhub.demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "demo OK" in out
    assert "resolved again from the cache, server stopped" in out
    installed = list((tmp_path / "cache" / "models").iterdir())
    assert len(installed) == 1 and (installed[0] / "COMPLETE").is_file()
    assert (installed[0] / "model" / "saved_model.pb").is_file()
