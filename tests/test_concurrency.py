"""Separate processes on one handle: one download for N resolvers, and a download killed
with SIGKILL that the next resolve takes over at once and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tfhub
from support.model_archives import assert_model, random_model_archive
from support.server import Route
from tfhub.core.cache import Cache
from tfhub.core.handle import Handle

pytestmark = pytest.mark.timeout(60)

PYTHON = os.path.join(sys.prefix, "bin", "python")

# Imports tfhub, says it is ready, waits for the go file, resolves, prints the path.
RESOLVER = """
import os, sys, time
import tfhub
handle, ready, go = sys.argv[1:4]
open(ready, "w").close()
while go != "-" and not os.path.exists(go):
    time.sleep(0.002)
print(tfhub.resolve(handle), flush=True)
"""


def start_resolver(handle: str, ready: Path, go: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-c", RESOLVER, handle, str(ready), str(go) if go else "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def part_size(cache_dir: Path, handle: Handle) -> int:
    try:
        return (cache_dir / "partial" / f"{handle.cache_key}.part").stat().st_size
    except FileNotFoundError:
        return 0


def test_four_processes_one_download(server, cache_dir, tmp_path):
    archive = random_model_archive(1_000_000)
    server.add("/m/1", Route(archive, delay=0.03))  # half a second to serve
    url = server.url("/m/1")
    go = tmp_path / "go"
    readies = [tmp_path / f"ready{i}" for i in range(4)]
    procs = [start_resolver(url, ready, go) for ready in readies]
    try:
        wait_for(lambda: all(r.exists() for r in readies), "the processes to start")
        go.touch()
        outputs = [p.communicate(timeout=40) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    (path,) = paths
    assert server.hits_for("/m/1") == 1
    assert_model(path, archive)
    assert sorted(os.listdir(cache_dir / "staging")) == []
    assert sorted(os.listdir(cache_dir / "partial")) == []


class Victim:
    """A process resolving a slowly served model, to be killed with SIGKILL mid-way."""

    def __init__(self, server, cache_dir: Path, tmp_path: Path) -> None:
        self.archive = random_model_archive(1_500_000)
        self.route = server.add("/m/1", Route(self.archive, pause_at=400_000))
        self.url = server.url("/m/1")
        self.handle = Handle.parse(self.url)
        self.cache_dir = cache_dir
        self.proc = start_resolver(self.url, tmp_path / "victim-ready")
        try:
            # All but the last few KiB (still in the writer's buffer) reach the disk.
            wait_for(lambda: self.kept >= 350_000, "the .part file to fill")
        except BaseException:
            self.kill()
            raise

    @property
    def kept(self) -> int:
        return part_size(self.cache_dir, self.handle)

    def kill(self) -> None:
        """Kills the process stalled mid-download; later requests are served in full."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.communicate(timeout=10)
        self.route.pause_at = None
        self.route.resume.set()
        assert self.proc.returncode == -signal.SIGKILL
        models = self.cache_dir / "models"
        assert not models.exists() or os.listdir(models) == []


def assert_resumed(server, cache_dir: Path, handle: Handle, kept: int) -> None:
    first, *_, last = server.requests_for("/m/1")
    assert first.headers.get("Range") is None
    assert last.headers["Range"] == f"bytes={kept}-"
    assert last.headers.get("If-Range")
    assert len(server.requests_for("/m/1")) == 2
    assert os.listdir(cache_dir / "staging") == []
    assert os.listdir(cache_dir / "partial") == []


def test_killed_download_frees_the_lock_and_the_next_resolve_resumes(server, cache_dir, tmp_path):
    victim = Victim(server, cache_dir, tmp_path)
    victim.kill()
    with Cache(cache_dir).try_lock(victim.handle.cache_key) as free:
        assert free  # the kernel released the dead process's lock
    kept = victim.kept
    start = time.monotonic()
    path = tfhub.resolve(victim.url)
    assert time.monotonic() - start < 5
    assert_model(path, victim.archive)
    assert_resumed(server, cache_dir, victim.handle, kept)


def test_a_waiting_process_takes_over_from_a_killed_one(server, cache_dir, tmp_path):
    victim = Victim(server, cache_dir, tmp_path)
    ready = tmp_path / "waiter-ready"
    waiter = start_resolver(victim.url, ready)
    try:
        wait_for(ready.exists, "the waiting process to start")
        time.sleep(0.3)  # let it reach the lock
        assert waiter.poll() is None
        victim.kill()
        kept = victim.kept
        start = time.monotonic()
        out, err = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
        waiter.wait()
    assert waiter.returncode == 0, err
    assert time.monotonic() - start < 5
    assert_model(out.strip(), victim.archive)
    assert_resumed(server, cache_dir, victim.handle, kept)
    assert tfhub.resolve(victim.url) == out.strip()
    assert len(server.requests_for("/m/1")) == 2
