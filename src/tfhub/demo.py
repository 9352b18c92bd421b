"""An end-to-end client self-check on embedded defaults: build a small model, pack it as an
archive, serve it on 127.0.0.1, resolve it through the cache, and load it.

Run it with ``python -m tfhub.demo``. (The main job, ``scripts/serve.sh``, runs the hub server.)
"""

from __future__ import annotations

import argparse
import http.server
import os
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tfhub.core.pack import pack_archive


def build_model(out_dir: Path) -> list[float]:
    """Saves a tiny TF2 SavedModel (y = relu(x @ w + b)) and returns its output for [1, 2, 3]."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[0.5, -1.0], [0.25, 2.0], [1.0, 0.0]], name="w")
            self.b = tf.Variable([0.1, -0.2], name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    module = Tiny()
    tf.saved_model.save(module, str(out_dir))
    return [float(v) for v in module(tf.constant([[1.0, 2.0, 3.0]]))[0]]


@contextmanager
def serve_archives(archives: dict[str, Path]) -> Iterator[str]:
    """Serves ``{"/models/x/1": archive}`` on 127.0.0.1 under the hub URL protocol."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query)
            archive = archives.get(parts.path)
            if archive is None or query.get("tf-hub-format") != ["compressed"]:
                self.send_error(404, "no such model")
                return
            data = archive.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(workdir: Path) -> int:
    """Runs every step, printing what happens; returns a process exit code."""
    import tfhub

    os.environ.setdefault("TFHUB_CACHE_DIR", str(workdir / "cache"))
    print(f"1. building a small TF2 SavedModel in {workdir / 'model'}")
    expected = build_model(workdir / "model")
    archive = pack_archive(workdir / "model", workdir / "model.tar.gz")
    print(f"2. packed it: {archive} ({archive.stat().st_size} bytes)")
    with serve_archives({"/models/tiny/1": archive}) as base:
        handle = f"{base}/models/tiny/1"
        print(f"3. serving it at {handle}")
        start = time.perf_counter()
        path = tfhub.resolve(handle)
        cold = time.perf_counter() - start
    print(f"4. downloaded and installed it in the cache in {cold * 1000:.1f} ms: {path}")
    start = time.perf_counter()
    again = tfhub.resolve(handle)
    warm = time.perf_counter() - start
    print(f"   resolved again from the cache, server stopped, in {warm * 1e6:.0f} µs")
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    got = [float(v) for v in loaded(tf.constant([[1.0, 2.0, 3.0]]))[0]]
    print(f"5. loaded it: f([1, 2, 3]) = {got} (expected {expected})")
    ok = again == path and all(abs(a - b) < 1e-6 for a, b in zip(got, expected, strict=True))
    print("demo OK" if ok else "demo FAILED")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp directory")
    args = parser.parse_args()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        raise SystemExit(run(args.workdir))
    with tempfile.TemporaryDirectory(prefix="tfhub-demo-") as tmp:
        raise SystemExit(run(Path(tmp)))


if __name__ == "__main__":
    main()
