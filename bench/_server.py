"""A static file server for the benchmarks, run as its own process on 127.0.0.1.

    python bench/_server.py --route /models/m/1=/path/m.tar.gz [--route ...]

Prints ``PORT <n>`` on its first line, then serves until terminated. Bodies are streamed
from disk with ``sendfile`` (a 1 GB archive never sits in the server's memory). The query
string is ignored, so a hub URL answers ``?tf-hub-format=compressed`` (what both clients
ask for) with the archive. ``Range``/``If-Range``, ``ETag``, ``Last-Modified`` and ``HEAD``
are supported; unknown paths get 404.
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import os
import socket
import sys
import urllib.parse


def make_handler(routes: dict[str, str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bench-file-server/1"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _simple(self, status: int, text: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def _serve(self, *, body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            file = routes.get(path)
            if file is None:
                return self._simple(404, b"not found")
            try:
                f = open(file, "rb")  # noqa: SIM115
            except OSError:
                return self._simple(404, b"not found")
            with f:
                st = os.fstat(f.fileno())
                size = st.st_size
                etag = f'"{st.st_ino:x}-{size:x}-{st.st_mtime_ns:x}"'
                start, end, status = 0, size - 1, 200
                rng = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                if rng and rng.startswith("bytes=") and if_range in (None, etag):
                    first, _, last = rng[6:].split(",")[0].strip().partition("-")
                    if first.isdigit():
                        start = int(first)
                        end = min(int(last), size - 1) if last.isdigit() else size - 1
                        if start >= size:
                            self.send_response(416)
                            self.send_header("Content-Range", f"bytes */{size}")
                            self.send_header("Content-Length", "0")
                            self.end_headers()
                            return None
                        status = 206
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start + 1))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if not body:
                    return None
                self.wfile.flush()
                try:
                    self.connection.sendfile(f, start, end - start + 1)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
            return None

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", action="append", default=[], metavar="URLPATH=FILE")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    routes = {}
    for spec in args.route:
        url_path, _, file = spec.partition("=")
        routes[url_path] = os.path.abspath(file)
    httpd = _Server(("127.0.0.1", args.port), make_handler(routes))
    print(f"PORT {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
