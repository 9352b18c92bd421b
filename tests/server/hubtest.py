"""Helpers for the hub server tests: a real uvicorn server on 127.0.0.1 (in a thread or a
subprocess), publishing over HTTP; ``BUCKET``, the bucket of the local S3
(``support.object_stores.moto_s3``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tfhub.server.admin import create_token
from tfhub.server.context import HubContext

BUCKET = "tfhub-hub-test"
TIMEOUT = httpx.Timeout(30.0)


class ServerThread:
    """``create_app(hub=hub)`` served by uvicorn in a thread on a free port."""

    def __init__(self, hub: HubContext, *, pages: bool = True) -> None:
        import uvicorn

        from tfhub.server.app import create_app

        self.hub = hub
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(hub=hub, pages=pages), log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the hub server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@dataclass
class Hub:
    """A running hub and what tests need to talk to it."""

    hub: HubContext
    url: str

    def token(self, publisher: str, *, private: bool | None = None) -> str:
        return create_token(self.hub.db, publisher, private=private)[0]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def publish(
        self,
        archive: bytes | Path,
        name: str,
        token: str | None,
        *,
        version: int | None = None,
        readme: str | None = None,
        description: str | None = None,
        tags: str | None = None,
    ) -> httpx.Response:
        """POSTs (or PUTs ``version``) ``archive`` as multipart to ``name`` (publisher/model)."""
        data = archive.read_bytes() if isinstance(archive, Path) else archive
        fields = {
            k: v
            for k, v in (("readme", readme), ("description", description), ("tags", tags))
            if v is not None
        }
        path = f"/api/v1/models/{name}/versions" + (f"/{version}" if version else "")
        with self.client(token) as client:
            return client.request(
                "PUT" if version else "POST",
                path,
                files={"archive": ("model.tar.gz", data, "application/gzip")},
                data=fields,
            )

    def prefixes(self) -> list[str]:
        """Names under ``objects/`` in the hub's storage."""
        return self.hub.storage.list_prefixes("objects")

    @contextlib.contextmanager
    def sql(self) -> Iterator[list[str]]:
        """The SQL statements the hub's database runs inside the block, in order."""
        from sqlalchemy import event

        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(str(args[2]))

        engine = self.hub.db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)


@dataclass
class Served:
    """A ``tfhub serve`` subprocess: its URL, the process, and its output so far."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Any
    final: str | None = None  # the whole output, once the process ended

    def output(self) -> str:
        if self.final is not None:
            return self.final
        self.log.seek(0)
        return str(self.log.read().decode("utf-8", "replace"))


def wait_healthy(url: str, served: Served | None = None, timeout: float = 60) -> None:
    """Waits until ``url/healthz`` answers 200 (fails early if the process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served is not None and served.proc.poll() is not None:
            raise RuntimeError(
                f"the server exited with {served.proc.returncode}: {served.output()[-3000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy in {timeout} s")


def build_in_child(script: str, path: Path) -> Path:
    """Runs ``script`` with ``path`` as its argument in a child Python (so what it imports,
    e.g. Keras or tensorflow-text's ops, stays out of the test process); returns ``path``."""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


def tfhub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tfhub", *args]


@contextlib.contextmanager
def serve_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[Served]:
    """``tfhub serve --port P args...`` in a subprocess, healthy."""
    from server.pg import free_port

    port = free_port()
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            tfhub_command("serve", "--port", str(port), *args),
            stdout=log, stderr=subprocess.STDOUT, env=full_env,
        )  # fmt: skip
        served = Served(f"http://127.0.0.1:{port}", proc, log)
        try:
            wait_healthy(served.url, served, timeout)
            yield served
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            served.final = served.output()
