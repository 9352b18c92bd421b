"""A bounded load test: 16 concurrent clients against a real ``tfhub serve`` process on
127.0.0.1, for about 10 seconds, downloading a ~8 MB model archive (whole, as gzip and zstd,
and in byte ranges) and fetching pages. Every answer must be right: archives byte-exact
(sha256 = ETag), ranges the right slice, pages the right HTML; zero errors. Prints p50/p99
page latency and archive throughput (``pytest -s`` shows them)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from server.conftest import Models
from server.hubtest import serve_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CLIENTS = 16
SECONDS = 10.0
MAX_REQUESTS = 4000
BLOB_BYTES = 8 * 1024 * 1024
MODEL = "loadtest/big-encoder"
PAGES = {
    f"/{MODEL}": "loadtest/big-encoder",
    f"/{MODEL}/1": "loadtest/big-encoder",
    "/loadtest": "loadtest",
    "/?q=big": "Search models",
    "/": "Models",
}


@dataclass(frozen=True)
class Target:
    url: str
    gzip: bytes
    zstd_sha256: str


def _big_model(models: Models, root: Path) -> Path:
    """The fixture's TF2 SavedModel with 8 MB of incompressible assets (a real model)."""
    model = root / "big-model"
    shutil.copytree(models.tf2_v1, model)
    (model / "assets").mkdir(exist_ok=True)
    (model / "assets" / "table.bin").write_bytes(random.Random(7).randbytes(BLOB_BYTES))
    return model


@pytest.fixture(scope="module")
def target(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from tfhub.server.admin import create_token
    from tfhub.server.client import publish_model
    from tfhub.server.database import Database
    from tfhub.server.settings import ServerSettings

    root = tmp_path_factory.mktemp("load")
    data = root / "hub"
    with serve_process("--no-examples", "--data-dir", str(data)) as served:
        db = Database(ServerSettings.from_env({}, data_dir=str(data)).database_url)
        try:
            token, _ = create_token(db, "loadtest")
        finally:
            db.close()
        publish_model(str(_big_model(models, root)), MODEL, server=served.url, token=token)
        detail = httpx.get(f"{served.url}/api/v1/models/{MODEL}/versions/1", timeout=30).json()
        gzip = httpx.get(f"{served.url}/{MODEL}/1?tf-hub-format=compressed", timeout=60).content
        assert hashlib.sha256(gzip).hexdigest() == detail["archives"]["gzip"]["sha256"]
        assert len(gzip) > BLOB_BYTES
        yield Target(served.url, gzip, detail["archives"]["zstd"]["sha256"])
        assert served.proc.poll() is None, served.output()[-3000:]


@dataclass
class Tally:
    """What the clients saw (appended to from several threads under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    page_seconds: list[float] = field(default_factory=list)
    archive_bytes: int = 0
    archive_seconds: float = 0.0
    requests: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _archive(client: httpx.Client, t: Target, kind: str, rng: random.Random) -> tuple[int, str]:
    url = f"/{MODEL}/1?tf-hub-format=compressed"
    if kind == "range":
        start = rng.randrange(len(t.gzip) - 1)
        end = min(len(t.gzip) - 1, start + rng.randrange(1, 2 * 1024 * 1024))
        r = client.get(url, headers={"Range": f"bytes={start}-{end}"})
        ok = (
            r.status_code == 206
            and r.content == t.gzip[start : end + 1]
            and r.headers["content-range"] == f"bytes {start}-{end}/{len(t.gzip)}"
        )
        return len(r.content), "" if ok else f"range {start}-{end}: {r.status_code}"
    headers = {"Accept": "application/zstd"} if kind == "zstd" else {}
    r = client.get(url if kind == "gzip" else url.replace("/1?", "?"), headers=headers)
    digest = hashlib.sha256(r.content).hexdigest()
    expected = hashlib.sha256(t.gzip).hexdigest() if kind == "gzip" else t.zstd_sha256
    ok = r.status_code == 200 and digest == expected and r.headers["etag"] == f'"{digest}"'
    return len(r.content), "" if ok else f"{kind}: {r.status_code}, sha256 {digest}"


def _page(client: httpx.Client, path: str) -> str:
    r = client.get(path)
    ok = r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    return "" if ok and PAGES[path] in r.text else f"page {path}: {r.status_code}"


def _client(t: Target, number: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(number)
    kinds = ["page", "gzip", "page", "range", "page", "zstd", "range", "page"]
    with httpx.Client(base_url=t.url, timeout=30) as client:
        i = number
        while time.monotonic() < deadline:
            kind = kinds[i % len(kinds)]
            i += 1
            t0 = time.perf_counter()
            try:
                if kind == "page":
                    size, error = 0, _page(client, rng.choice(list(PAGES)))
                else:
                    size, error = _archive(client, t, kind, rng)
            except httpx.HTTPError as e:
                size, error = 0, f"{kind}: {type(e).__name__}: {e}"
            took = time.perf_counter() - t0
            with tally.lock:
                tally.requests += 1
                tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
                if error:
                    tally.errors.append(error)
                elif kind == "page":
                    tally.page_seconds.append(took)
                else:
                    tally.archive_bytes += size
                    tally.archive_seconds += took
                if tally.requests >= MAX_REQUESTS:
                    return


def test_sixteen_clients_get_exact_archives_and_pages_without_errors(target: Target) -> None:
    tally = Tally()
    deadline = time.monotonic() + SECONDS
    threads = [
        threading.Thread(target=_client, args=(target, n, deadline, tally), daemon=True)
        for n in range(CLIENTS)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 120)
    wall = time.perf_counter() - start
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert tally.errors == [], tally.errors[:10]
    assert all(tally.kinds.get(k, 0) >= CLIENTS for k in ("page", "gzip", "range")), tally.kinds
    pages = sorted(tally.page_seconds)
    p50 = statistics.median(pages) * 1e3
    p99 = pages[min(len(pages) - 1, round(0.99 * (len(pages) - 1)))] * 1e3
    print(
        f"\nload: {CLIENTS} clients, {tally.requests} requests in {wall:.1f} s "
        f"({os.cpu_count()} cores), 0 errors; {tally.kinds}; pages p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms; archives {tally.archive_bytes / 1e6:.0f} MB at "
        f"{tally.archive_bytes / wall / 1e6:.0f} MB/s"
    )
    assert p99 < 10_000  # bounded: no page waited behind the downloads for seconds
