"""On an interactive terminal a download shows a progress bar (bytes, total, rate);
TFHUB_DISABLE_PROGRESS=1 turns it off."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from support.archives import model_archive
from support.server import HubTestServer, Route

SCRIPT = "import sys, tfhub; print(tfhub.resolve(sys.argv[1]))"


def _run_on_a_terminal(url: str, env: dict[str, str]) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url], stdout=subprocess.DEVNULL, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("disabled", [False, True])
def test_progress_bar_on_a_terminal(server: HubTestServer, disabled: bool) -> None:
    body = model_archive("none", size=3 << 20)
    server.add("/m/1", Route(body, delay=0.01))
    env = {k: v for k, v in os.environ.items() if k != "TFHUB_DISABLE_PROGRESS"}
    if disabled:
        env["TFHUB_DISABLE_PROGRESS"] = "1"
    screen = _run_on_a_terminal(server.url("/m/1"), env)
    if disabled:
        assert "B/s" not in screen and "%|" not in screen
    else:
        assert "%|" in screen and "B/s" in screen and "3.0" in screen  # total ~3.0 MiB
