"""The hub server's archive throughput against nginx serving the same file, and page latency
under that load.

    .venv/bin/python bench/bench_server.py [--quick] [--rounds N] [--clients N] [--workers N]

A real SavedModel (~256 MB of weights; tar.gz ~200 MB; ``--quick``: ~32 MB) is published to
a hub started exactly as ``tfhub serve`` starts it (Granian with ASGI ``pathsend``; the
hub's data folder is kept in ``.bench-data/hub-server/`` and reused). nginx (Debian's
``/usr/sbin/nginx``, a generated config in a temporary folder, not a daemon, 127.0.0.1, the
same number of worker processes as the hub, ``sendfile on``) serves the hub's own stored
``.tar.gz``. In each round, ``--clients`` concurrent ``curl`` processes download the whole
archive ``--repeat`` times from one server (``...?tf-hub-format=compressed`` from the hub);
rounds alternate between the servers. Throughput = bytes received by all clients / wall
time of the round; the medians over rounds and their ratio are reported (goal: hub >= 0.7x
nginx). Then, in a few more rounds against the hub, one more client fetches model pages,
search and the home page in a loop: p50 and p99 of their latency under that load (and
unloaded, for reference).

Before timing, one download from each server is checked byte for byte against the stored
archive's sha256 (the hub's ``ETag``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ModelData, ensure_model
from _harness import (
    DATA,
    PYTHON,
    child_env,
    code_line,
    cores_line,
    median,
    save_results,
    spread,
    summary,
    wait_quiet,
)

NGINX = "/usr/sbin/nginx"
CURL = shutil.which("curl") or "/usr/bin/curl"
FULL_BYTES = 256_000_000
QUICK_BYTES = 32_000_000
PUBLISHER, MODEL = "bench", "archive"
PAGES = [f"/{PUBLISHER}/{MODEL}", f"/{PUBLISHER}/{MODEL}/1", "/", f"/?q={MODEL}", f"/{PUBLISHER}"]
GOAL = 0.7


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


# -- the hub --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    path: str  # the stored .tar.gz
    size: int
    sha256: str


def hub_settings(data_dir: Path, port: int, workers: int) -> list[str]:
    return [PYTHON, "-m", "tfhub", "serve", "--no-examples", "--data-dir", str(data_dir),
            "--port", str(port), "--workers", str(workers)]  # fmt: skip


def publish_once(data_dir: Path, url: str, model: ModelData) -> Stored:
    """Publishes ``model`` as bench/archive/1 unless the hub has it; returns its stored file."""
    from tfhub.server.admin import create_token
    from tfhub.server.catalog import find_version
    from tfhub.server.client import publish_model
    from tfhub.server.context import HubContext
    from tfhub.server.settings import ServerSettings

    hub = HubContext.open(ServerSettings.from_env({}, data_dir=str(data_dir)))
    try:
        from tfhub.errors import ServerError
        from tfhub.server.access import Viewer

        try:
            with hub.db.session() as session:
                _, version = find_version(session, Viewer(), PUBLISHER, MODEL, 1)
        except ServerError:
            token, _ = create_token(hub.db, PUBLISHER, name="bench")
            print(f"  publishing {model.gzip} to the hub (it packs gzip + zstd)...", flush=True)
            t0 = time.perf_counter()
            publish_model(str(model.gzip), f"{PUBLISHER}/{MODEL}/1", server=url, token=token)
            print(f"  published in {time.perf_counter() - t0:.1f} s", flush=True)
            with hub.db.session() as session:
                _, version = find_version(session, Viewer(), PUBLISHER, MODEL, 1)
        path = hub.storage.local_path(version.gzip_key)
        assert path is not None, "the bench hub uses local storage"
        return Stored(path, version.gzip_bytes, version.gzip_sha256)
    finally:
        hub.close()


# -- nginx ----------------------------------------------------------------------------------------
NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /{publisher}/{model}/1 {{
            default_type application/gzip;
            alias {file};
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(file: str, workers: int) -> Iterator[str]:
    if not os.access(NGINX, os.X_OK):
        raise SystemExit(f"{NGINX} is missing: apt-get install nginx")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        conf = Path(tmp, "nginx.conf")
        conf.write_text(
            NGINX_CONF.format(
                workers=workers, tmp=tmp, port=port, publisher=PUBLISHER, model=MODEL, file=file
            )
        )
        args = [NGINX, "-e", f"{tmp}/error.log", "-p", tmp, "-c", str(conf)]
        with process(args, Path(tmp, "stdout.log")) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/{PUBLISHER}/{MODEL}/1", proc)
            yield url


# -- measuring ------------------------------------------------------------------------------------
def check_bytes(url: str, stored: Stored) -> None:
    """One full download of ``url`` must be the stored archive (sha256)."""
    import httpx

    digest, size = hashlib.sha256(), 0
    with httpx.stream("GET", url, timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        etag = response.headers.get("etag", "").strip('"')
    if size != stored.size or digest.hexdigest() != stored.sha256:
        raise SystemExit(f"{url} sent {size} bytes that differ from the stored archive")
    if etag and len(etag) == 64 and etag != stored.sha256:
        raise SystemExit(f"{url}: ETag {etag} is not the archive's sha256")


def download_round(url: str, clients: int, stored: Stored, repeat: int) -> float:
    """``clients`` concurrent curl processes, each downloading ``url`` ``repeat`` times
    (one connection); bytes per second of the round."""
    args = [CURL, "-sS", "--fail"]
    for _ in range(repeat):
        args += ["-o", "/dev/null", "-w", "%{size_download}\n", url]
    start = time.perf_counter()
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    took = time.perf_counter() - start
    sizes = [int(line) for o in outputs for line in o.split()]
    failed = [p.returncode for p in procs if p.returncode != 0]
    if failed or sizes != [stored.size] * (clients * repeat):
        raise SystemExit(f"download round from {url} failed: exit codes {failed}, sizes {sizes}")
    return sum(sizes) / took


class PageProbe:
    """Fetches the hub's pages in a loop on a thread, recording each latency (seconds)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=60) as client:
            i = 0
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = client.get(PAGES[i % len(PAGES)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - t0)
                self.errors += 0 if ok else 1
                i += 1

    def __enter__(self) -> PageProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(120)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def idle_pages(base: str, n: int = 60) -> list[float]:
    """Latencies of ``n`` page requests to an idle hub (after warming every worker up)."""
    import httpx

    out = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(4 * len(PAGES)):
            client.get(PAGES[i % len(PAGES)]).raise_for_status()
        for i in range(n):
            t0 = time.perf_counter()
            client.get(PAGES[i % len(PAGES)]).raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~32 MB model, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per server (default 5)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent downloads (16)")
    parser.add_argument("--workers", type=int, default=1, help="hub and nginx processes (1)")
    parser.add_argument("--repeat", type=int, default=2, help="downloads per client per round")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)

    print("hub server: archive throughput vs nginx, page latency under load")
    print(f"  {cores_line()}")
    print(f"  {code_line()}")
    if not os.access(CURL, os.X_OK):
        raise SystemExit("curl is needed for the concurrent downloads (apt-get install curl)")
    tag = "cold-32m" if args.quick else "cold-256m"
    model = ensure_model(tag, QUICK_BYTES if args.quick else FULL_BYTES)
    print(f"  {model.describe()}")
    data_dir = DATA / "hub-server" / tag
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    env = child_env()
    with process(hub_settings(data_dir, port, args.workers), data_dir / "serve.log", env) as proc:
        wait_http(f"{hub_url}/healthz", proc)
        stored = publish_once(data_dir, hub_url, model)
        archive = f"{hub_url}/{PUBLISHER}/{MODEL}/1?tf-hub-format=compressed"
        print(f"  archive: {stored.size / 1e6:.1f} MB tar.gz, {args.clients} clients, "
              f"{args.workers} server process(es) each, {rounds} rounds")  # fmt: skip
        idle = idle_pages(hub_url)
        with nginx(stored.path, args.workers) as nginx_url:
            nginx_archive = f"{nginx_url}/{PUBLISHER}/{MODEL}/1"
            check_bytes(archive, stored)
            check_bytes(nginx_archive, stored)
            rates: dict[str, list[float]] = {"hub": [], "nginx": []}
            for r in range(rounds):
                order = [("hub", archive), ("nginx", nginx_archive)]
                for name, url in order if r % 2 == 0 else order[::-1]:
                    busy = wait_quiet(threshold=0.15, max_wait=30)
                    rate = download_round(url, args.clients, stored, args.repeat)
                    rates[name].append(rate)
                    print(f"  round {r + 1} {name:<5} {rate / 1e9:6.2f} GB/s"
                          f"  (cores {busy:.0%} busy before)", flush=True)  # fmt: skip
            ours, theirs = rates["hub"], rates["nginx"]
            # Pages while the hub serves archives to every client (not part of the ratio).
            loaded: list[float] = []
            mixed: list[float] = []
            errors = 0
            for _ in range(2 if args.quick else 3):
                wait_quiet(threshold=0.15, max_wait=30)
                with PageProbe(hub_url) as probe:
                    mixed.append(download_round(archive, args.clients, stored, args.repeat))
                loaded += probe.latencies
                errors += probe.errors
    ratio = median(ours) / median(theirs)
    p50, p99 = percentile(loaded, 50) * 1e3, percentile(loaded, 99) * 1e3
    idle50, idle99 = percentile(idle, 50) * 1e3, percentile(idle, 99) * 1e3
    print(f"  hub   {median(ours) / 1e9:.2f} GB/s (rounds {spread([x / 1e9 for x in ours])})")
    print(f"  nginx {median(theirs) / 1e9:.2f} GB/s (rounds {spread([x / 1e9 for x in theirs])})")
    print(f"  pages under load: {len(loaded)} requests, {errors} errors, "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (unloaded p50 {idle50:.1f} ms, "
          f"p99 {idle99:.1f} ms); mean {statistics.fmean(loaded) * 1e3:.1f} ms; archives "
          f"meanwhile {median(mixed) / 1e9:.2f} GB/s")  # fmt: skip
    save_results("server", {
        "archive_bytes": stored.size, "clients": args.clients, "workers": args.workers,
        "hub_bytes_per_s": ours, "nginx_bytes_per_s": theirs, "ratio": ratio,
        "hub_bytes_per_s_with_pages": mixed,
        "page_ms": {"p50": p50, "p99": p99, "idle_p50": idle50, "idle_p99": idle99},
        "page_errors": errors,
    })  # fmt: skip
    summary(
        f"server: archives tfhub {median(ours) / 1e9:.2f} GB/s, nginx "
        f"{median(theirs) / 1e9:.2f} GB/s, ratio {ratio:.2f}x (goal >= {GOAL}x); pages under "
        f"load p50 {p50:.0f} ms, p99 {p99:.0f} ms, {errors} errors [{args.clients} clients, "
        f"{stored.size / 1e6:.0f} MB tar.gz, {args.workers} process(es), {rounds} rounds]"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
