"""A real threaded HTTP server on 127.0.0.1 with scriptable routes, for tests and the demo.

Each route answers with a body and can redirect, fail, stall, truncate, announce a digest,
honour ``Range`` and count its requests.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
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
    sha256_header: bool = False  # send Repr-Digest
    truncate_at: int | None = None  # close the connection after this many body bytes
    truncate_times: int = 1_000_000  # ... for this many requests, then serve fully
    fail_times: int = 0  # answer 503 this many times first
    delay: float = 0.0  # seconds to sleep between 64 KiB chunks
    length: bool = True  # send Content-Length
    gate: threading.Event | None = None  # wait for this before sending the body


class HubTestServer:
    """``with HubTestServer() as server: server.add("/m/1", Route(...)); server.url("/m/1")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, route: Route) -> Route:
        self.routes[path] = route
        return route

    def _serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        key = h.path  # path with query: routes may include the query
        plain = urllib.parse.urlsplit(h.path).path
        route = self.routes.get(key) or self.routes.get(plain)
        with self._lock:
            self.hits[key] += 1
            self.requests.append((h.path, dict(h.headers.items())))
            hit = self.hits[key]
        if route is None:
            return self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
        if hit <= route.fail_times:
            return self._send(h, 503, b"busy", {"Content-Type": "text/plain", "Retry-After": "0"})
        if route.redirect is not None:
            return self._send(h, route.status, b"", {"Location": route.redirect})
        self._send_body(h, route, hit)

    def _send(self, h: http.server.BaseHTTPRequestHandler, status: int, body: bytes,
              headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _send_body(self, h: http.server.BaseHTTPRequestHandler, route: Route, hit: int) -> None:
        body, status = route.body, route.status
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = etag
        if route.sha256_header:
            import base64

            headers["Repr-Digest"] = (
                "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
            )
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
        if route.gate is not None:
            route.gate.wait(30)
        limit = len(payload)
        if route.truncate_at is not None and hit <= route.truncate_times + route.fail_times:
            limit = max(0, route.truncate_at - start)
        sent = 0
        try:
            while sent < limit:
                chunk = payload[sent : min(limit, sent + 65536)]
                h.wfile.write(chunk)
                sent += len(chunk)
                if route.delay:
                    time.sleep(route.delay)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if limit < len(payload) or not route.length:
            h.close_connection = True
            try:
                import socket

                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
