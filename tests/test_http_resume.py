"""Resuming interrupted downloads (``Range`` + ``If-Range``, in this run or the next) and
checking the sha256 a server announces, against a real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import tfhub
from support.archives import model_archive
from support.model_archives import (
    assert_model,
    assert_nothing_installed,
    listing,
    random_model_archive,
)
from support.server import Route
from tfhub.core.handle import Handle

pytestmark = pytest.mark.timeout(60)


# -- resuming ---------------------------------------------------------------------------


def test_truncated_download_resumes_with_range_and_if_range(server, cache_dir):
    archive = random_model_archive(600_000)
    route = server.add("/m/1", Route(archive, truncate_at=200_000, truncate_times=1))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    first, second = server.requests_for("/m/1")
    assert first.headers.get("Range") is None
    offset = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= 200_000
    assert second.headers["If-Range"] == '"' + hashlib.md5(route.body).hexdigest() + '"'
    assert listing(cache_dir, "partial") == []


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_truncated_compressed_download_resumes(server, compression):
    archive = random_model_archive(400_000, compression)
    server.add("/m/1", Route(archive, truncate_at=150_000, truncate_times=2))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    assert server.hits_for("/m/1") == 3


def test_server_ignoring_range_restarts_and_still_installs(server):
    archive = random_model_archive(600_000)
    server.add("/m/1", Route(archive, ranges=False, truncate_at=200_000, truncate_times=1))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    _first, second, *rest = server.requests_for("/m/1")
    assert second.headers.get("Range") is not None  # asked, but got the whole body
    assert rest == []


def test_server_without_validators_restarts_without_range(server):
    archive = random_model_archive(600_000)
    server.add("/m/1", Route(archive, etag=False, truncate_at=200_000, truncate_times=1))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    assert [s.headers.get("Range") for s in server.requests_for("/m/1")] == [None, None]


def test_a_failed_run_leaves_a_part_that_the_next_run_resumes(server, monkeypatch, cache_dir):
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    archive = random_model_archive(600_000)
    route = server.add("/m/1", Route(archive, truncate_at=250_000))
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    assert listing(cache_dir, "models") == []
    assert len(listing(cache_dir, "partial")) == 2  # the bytes and their validator
    route.truncate_at = None
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    assert server.requests_for("/m/1")[-1].headers["Range"] == "bytes=250000-"
    assert listing(cache_dir, "partial") == []


def test_a_part_of_a_changed_model_is_thrown_away(server, monkeypatch):
    """The model changed between two interrupted runs: If-Range gets the whole new archive,
    which must be kept from its first byte, so that a third run resumes it correctly."""
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    old, new = random_model_archive(600_000, seed=1), random_model_archive(600_000, seed=2)
    route = server.add("/m/1", Route(old, truncate_at=300_000))
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    route.body, route.truncate_at = new, 200_000
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    route.truncate_at = None
    assert_model(tfhub.resolve(server.url("/m/1")), new)
    assert server.requests_for("/m/1")[-1].headers["Range"] == "bytes=200000-"


def _leave_part(cache_dir: Path, url: str, data: bytes, etag: str, fetched: str) -> None:
    """What a run killed after the last byte leaves: the .part and its validator."""
    key = Handle.parse(url).cache_key
    (cache_dir / "partial").mkdir(parents=True, exist_ok=True)
    (cache_dir / "partial" / f"{key}.part").write_bytes(data)
    meta = {"url": fetched, "etag": etag, "last_modified": None, "sha256": None}
    (cache_dir / "partial" / f"{key}.part.json").write_text(json.dumps(meta))


def test_a_complete_part_is_fetched_again_after_416(server, cache_dir):
    archive = random_model_archive(300_000)
    route = server.add("/m/1", Route(archive))
    etag = '"' + hashlib.md5(route.body).hexdigest() + '"'
    url = server.url("/m/1")
    _leave_part(cache_dir, url, archive + b"extra", etag, url + "?tf-hub-format=compressed")
    assert_model(tfhub.resolve(url), archive)
    ranges = [s.headers.get("Range") for s in server.requests_for("/m/1")]
    assert ranges == [f"bytes={len(archive) + 5}-", None]
    assert listing(cache_dir, "partial") == []


def test_a_part_of_another_url_is_not_resumed(server, cache_dir):
    archive = random_model_archive(300_000)
    route = server.add("/m/1", Route(archive))
    etag = '"' + hashlib.md5(route.body).hexdigest() + '"'
    url = server.url("/m/1")
    _leave_part(cache_dir, url, b"\0" * 1000, etag, server.url("/other"))
    assert_model(tfhub.resolve(url), archive)
    assert [s.headers.get("Range") for s in server.requests_for("/m/1")] == [None]


# -- digests ----------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("how", ["repr-digest", "etag"])
def test_matching_digest_is_accepted(server, how):
    archive = model_archive("gz")
    if how == "etag":
        route = Route(archive, etag_value=f'"{_sha(archive)}"')
    else:
        route = Route(archive, sha256_header=True)
    server.add("/m/1", route)
    assert_model(tfhub.resolve(server.url("/m/1")), archive)


@pytest.mark.parametrize("how", ["repr-digest", "etag", "hex-repr-digest"])
def test_wrong_digest_is_an_integrity_error_and_leaves_nothing(server, cache_dir, how):
    archive = model_archive("gz")
    wrong = _sha(b"something else")
    route = {
        "etag": Route(archive, etag_value=f'"{wrong}"'),
        "repr-digest": Route(archive, repr_digest="sha-256=:" + "A" * 43 + "=:"),
        "hex-repr-digest": Route(archive, repr_digest=f"sha-256={wrong}"),
    }[how]
    server.add("/m/1", route)
    with pytest.raises(tfhub.IntegrityError, match="does not match the sha256"):
        tfhub.resolve(server.url("/m/1"))
    assert_nothing_installed(cache_dir)


def test_weak_etag_is_not_taken_for_a_digest(server):
    archive = model_archive("gz")
    server.add("/m/1", Route(archive, etag_value=f'W/"{_sha(b"other")}"'))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)


def test_digest_is_checked_after_a_resume_in_a_later_run(server, monkeypatch, cache_dir):
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    archive = random_model_archive(600_000)
    wrong = "sha-256=:" + "A" * 43 + "=:"
    route = server.add("/m/1", Route(archive, repr_digest=wrong, truncate_at=250_000))
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    route.truncate_at = None
    with pytest.raises(tfhub.IntegrityError):
        tfhub.resolve(server.url("/m/1"))
    assert server.requests_for("/m/1")[-1].headers["Range"] == "bytes=250000-"
    assert_nothing_installed(cache_dir)


def test_digest_remembered_from_the_first_run_is_checked_on_resume(server, monkeypatch):
    """The digest came with the first answer only: the 206 of the next run lacks it."""
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    archive = random_model_archive(600_000)
    headers = {"X-Checksum-Sha256": _sha(b"something else")}
    route = server.add("/m/1", Route(archive, headers=headers, truncate_at=250_000))
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    route.truncate_at, route.headers = None, {}
    with pytest.raises(tfhub.IntegrityError):
        tfhub.resolve(server.url("/m/1"))
    assert server.requests_for("/m/1")[-1].headers["Range"] == "bytes=250000-"
