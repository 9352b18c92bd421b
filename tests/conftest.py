"""Shared fixtures: an isolated cache per test and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import HubTestServer

_TFHUB_VARS = [k for k in os.environ if k.startswith("TFHUB_")]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache and no inherited TFHUB_* settings."""
    for name in _TFHUB_VARS:
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    monkeypatch.setenv("TFHUB_DISABLE_PROGRESS", "1")
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    return cache


@pytest.fixture
def cache_dir(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def server() -> Iterator[HubTestServer]:
    """A threaded HTTP server on 127.0.0.1; add routes with ``server.add(path, Route(...))``."""
    with HubTestServer() as s:
        yield s


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which no test passed is a failure, whatever was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or session.config.option.collectonly:
        return
    passed = len(reporter.stats.get("passed", []))
    if passed == 0 and exitstatus == 0:
        session.exitstatus = 1
