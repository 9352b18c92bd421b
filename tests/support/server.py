"""A real threaded HTTP server on 127.0.0.1 with scriptable routes, for tests and the demo.

Each route answers with a body and can redirect, fail, stall, truncate, announce a digest,
honour ``Range`` and count its requests.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import http.server
import socket
import sys
import threading
import traceback
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    redirect: str | None = None  # Location for 3xx
    ranges: bool = True  # honour Range / If-Range
    etag: bool = True
    etag_value: str | None = None  # the ETag to send instead of a quoted md5 of the body
    sha256_header: bool = False  # send Repr-Digest
    repr_digest: str | None = None  # the Repr-Digest to send instead of the body's
    truncate_at: int | None = None  # close the connection after this many body bytes
    truncate_times: int = 1_000_000  # ... for this many requests, then serve fully
    fail_times: int = 0  # answer 503 this many times first
    stall: float = 0.0  # seconds to wait after the headers, before the body
    delay: float = 0.0  # seconds to sleep between 64 KiB chunks
    length: bool = True  # send Content-Length
    gate: threading.Event | None = None  # wait for this before sending the body
    pause_at: int | None = None  # after this many body bytes, wait for ``resume``
    resume: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str  # with the query
    headers: email.message.Message  # case-insensitive: ``seen.headers.get("range")``

    @property
    def plain_path(self) -> str:
        return urllib.parse.urlsplit(self.path).path


class _QuietServer(http.server.ThreadingHTTPServer):
    """A threaded server that does not print a client hanging up into the test's stderr.

    The default ``handle_error`` writes to ``sys.stderr``, which a ``CliRunner`` in another
    thread may have swapped for its own capture. A client closing its connection is normal in
    these tests; anything else goes to the real stderr so it is still seen.
    """

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        traceback.print_exc(file=sys.__stderr__)


class HubTestServer:
    """``with HubTestServer() as server: server.add("/m/1", Route(...)); server.url("/m/1")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> HubTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # ends stalls, delays and pauses at once
        for route in self.routes.values():
            if route.gate is not None:
                route.gate.set()
            route.resume.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, route: Route) -> Route:
        self.routes[path] = route
        return route

    def hits_for(self, path: str) -> int:
        """Requests for ``path`` whatever their query."""
        with self._lock:
            return sum(1 for s in self.seen if s.plain_path == path)

    def requests_for(self, path: str) -> list[Seen]:
        """The requests for ``path`` (any query), oldest first."""
        with self._lock:
            return [s for s in self.seen if s.plain_path == path]

    def _serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        key = h.path  # path with query: routes may include the query
        plain = urllib.parse.urlsplit(h.path).path
        route = self.routes.get(key) or self.routes.get(plain)
        with self._lock:
            self.hits[key] += 1
            self.requests.append((h.path, dict(h.headers.items())))
            self.seen.append(Seen(h.path, h.headers))
            hit = sum(1 for s in self.seen if s.plain_path == plain)
        if route is None:
            return self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
        if hit <= route.fail_times:
            return self._send(h, 503, b"busy", {"Content-Type": "text/plain", "Retry-After": "0"})
        if route.redirect is not None:
            return self._send(h, route.status, b"", {"Location": route.redirect})
        self._send_body(h, route, hit)

    def _send(
        self,
        h: http.server.BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str],
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _headers(self, route: Route) -> tuple[dict[str, str], str]:
        body = route.body
        etag = route.etag_value or '"' + hashlib.md5(body).hexdigest() + '"'
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = etag
        if route.repr_digest is not None:
            headers["Repr-Digest"] = route.repr_digest
        elif route.sha256_header:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            headers["Repr-Digest"] = f"sha-256=:{digest}:"
        return headers, etag

    def _send_body(self, h: http.server.BaseHTTPRequestHandler, route: Route, hit: int) -> None:
        body, status = route.body, route.status
        headers, etag = self._headers(route)
        start = 0
        rng = h.headers.get("Range")
        if route.ranges:
            headers["Accept-Ranges"] = "bytes"
            if rng and rng.startswith("bytes=") and h.headers.get("If-Range") in (None, etag):
                start = int(rng[6:].split("-")[0])
                if start >= len(body):
                    return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(body)}"})
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if route.length:
            h.send_header("Content-Length", str(len(payload)))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        limit = len(payload)
        if route.truncate_at is not None and hit <= route.truncate_times + route.fail_times:
            limit = max(0, route.truncate_at - start)
        self._write(h, route, payload[:limit], start)
        if limit < len(payload) or not route.length:
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _write(
        self, h: http.server.BaseHTTPRequestHandler, route: Route, data: bytes, start: int
    ) -> None:
        pause = len(data) + 1
        if route.pause_at is not None and start < route.pause_at:
            pause = route.pause_at - start
        try:
            h.wfile.flush()
            if route.gate is not None:
                route.gate.wait(30)
            if route.stall:
                self._closing.wait(route.stall)
            offset = 0
            while offset < len(data):
                end = min(offset + 65536, len(data), pause if offset < pause else len(data))
                h.wfile.write(data[offset:end])
                h.wfile.flush()
                offset = end
                if offset == pause:
                    while not (route.resume.is_set() or self._closing.is_set()):
                        route.resume.wait(0.05)
                if route.delay:
                    self._closing.wait(route.delay)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
