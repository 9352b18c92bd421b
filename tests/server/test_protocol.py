"""The hub URL protocol over real HTTP, on both back-ends: archives with length, strong
ETag, ranges, conditional GET and HEAD; gzip for every client and zstd on request; latest
and pinned versions; the 303 to the stored folder; pages and errors."""

from __future__ import annotations

import email.utils
import hashlib
from typing import Any

import httpx
import pytest

from server.conftest import Models
from server.hubtest import Hub, ServerThread
from support.model_archives import archive_files, disk_files

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def published(hub: Hub, models: Models) -> dict[str, Any]:
    token = hub.token("team")
    for name, path, version in (
        ("tf2_v1", "team/encoder", 1),
        ("tf2_v2", "team/encoder", 2),
        ("tf1", "team/module", 1),
    ):
        response = hub.publish(models.archive(name), path, token, version=version)
        assert response.status_code == 201, response.text
    return {"token": token}


def get(hub: Hub, path: str, fmt: str | None = "compressed", **kwargs: Any) -> httpx.Response:
    params = {"tf-hub-format": fmt} if fmt else {}
    return httpx.get(f"{hub.url}/{path}", params=params, timeout=30, **kwargs)


def test_archive_is_the_published_model_with_length_and_strong_etag(
    hub: Hub, published: dict[str, Any], models: Models
) -> None:
    r = get(hub, "team/encoder/1")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/gzip"
    assert r.content[:2] == b"\x1f\x8b"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert r.headers["accept-ranges"] == "bytes"
    assert email.utils.parsedate_to_datetime(r.headers["last-modified"]).tzinfo is not None
    assert archive_files(r.content) == disk_files(str(models.tf2_v1))


def test_latest_is_the_newest_version_and_pinned_versions_stay(
    hub: Hub, published: dict[str, Any]
) -> None:
    latest, v1, v2 = (get(hub, p) for p in ("team/encoder", "team/encoder/1", "team/encoder/2"))
    assert latest.content == v2.content != v1.content
    assert (latest.headers["x-tfhub-version"], v1.headers["x-tfhub-version"]) == ("2", "1")
    assert "immutable" in v1.headers["cache-control"]
    assert "no-cache" in latest.headers["cache-control"]  # it changes with the next version


def test_a_download_is_one_database_query(hub: Hub, published: dict[str, Any]) -> None:
    """Every client download comes here: model, publisher and version in one query."""
    for path in ("team/encoder", "team/encoder/1"):
        with hub.sql() as statements:
            assert get(hub, path).status_code == 200
        assert len(statements) == 1, statements


def test_ranges(hub: Hub, published: dict[str, Any]) -> None:
    full = get(hub, "team/encoder/1").content
    size, etag = len(full), get(hub, "team/encoder/1").headers["etag"]
    part = get(hub, "team/encoder/1", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == full[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.headers["content-length"] == "90"
    assert get(hub, "team/encoder/1", headers={"Range": "bytes=-20"}).content == full[-20:]
    assert get(hub, "team/encoder/1", headers={"Range": "bytes=50-"}).content == full[50:]
    resumed = get(hub, "team/encoder/1", headers={"Range": "bytes=5-", "If-Range": etag})
    assert resumed.status_code == 206 and resumed.content == full[5:]
    changed = get(hub, "team/encoder/1", headers={"Range": "bytes=5-", "If-Range": '"other"'})
    assert changed.status_code == 200 and changed.content == full  # the validator differs
    several = get(hub, "team/encoder/1", headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == full
    beyond = get(hub, "team/encoder/1", headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"


def test_conditional_get(hub: Hub, published: dict[str, Any]) -> None:
    first = get(hub, "team/encoder/1")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    conditions = [
        {"If-None-Match": etag},
        {"If-None-Match": "*"},
        {"If-None-Match": f'"x", W/{etag}'},
        {"If-Modified-Since": modified},
    ]
    for headers in conditions:
        again = get(hub, "team/encoder/1", headers=headers)
        assert again.status_code == 304, headers
        assert again.content == b"" and again.headers["etag"] == etag
    assert get(hub, "team/encoder/1", headers={"If-None-Match": '"x"'}).status_code == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert get(hub, "team/encoder/1", headers={"If-Modified-Since": old}).status_code == 200


def test_head_has_the_headers_of_get_and_no_body(hub: Hub, published: dict[str, Any]) -> None:
    full = get(hub, "team/encoder/1")
    head = httpx.head(f"{hub.url}/team/encoder/1?tf-hub-format=compressed", timeout=30)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "etag", "last-modified", "content-type", "accept-ranges"):
        assert head.headers[name] == full.headers[name], name


def test_zstd_only_for_clients_that_ask(
    hub: Hub, published: dict[str, Any], models: Models
) -> None:
    zstd = get(hub, "team/encoder/1", headers={"Accept": "application/zstd, */*;q=0.1"})
    assert zstd.headers["content-type"] == "application/zstd"
    assert zstd.content[:4] == b"\x28\xb5\x2f\xfd"
    assert zstd.headers["etag"] == f'"{hashlib.sha256(zstd.content).hexdigest()}"'
    assert archive_files(zstd.content) == disk_files(str(models.tf2_v1))
    assert "Accept" in zstd.headers["vary"]
    for accept in (None, "*/*", "application/gzip, application/zstd;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        assert get(hub, "team/encoder/1", headers=headers).content[:2] == b"\x1f\x8b", accept


def test_uncompressed_is_a_303_to_the_stored_folder(
    hub: Hub, published: dict[str, Any], models: Models, backend: str
) -> None:
    r = get(hub, "team/encoder/1", "uncompressed", follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert r.text == location  # the original client reads the location from the body
    if backend == "sqlite-local":
        assert location.startswith("file:///")
        assert disk_files(location.removeprefix("file://")) == disk_files(str(models.tf2_v1))
    else:
        import fsspec

        assert location.startswith("s3://")
        fs, path = fsspec.core.url_to_fs(location)
        fs.invalidate_cache()
        names = sorted(p.rsplit("/", 1)[-1] for p in fs.find(path))
        assert names == sorted(p.rsplit("/", 1)[-1] for p in disk_files(str(models.tf2_v1)))


def test_a_model_url_without_format_is_its_page(hub: Hub, published: dict[str, Any]) -> None:
    assert get(hub, "team/encoder", None).status_code == 200
    assert get(hub, "team/encoder/2", None).status_code == 200
    assert get(hub, "team/nothing", None).status_code == 404
    assert get(hub, "team/encoder/7", None).status_code == 404


def test_without_pages_a_model_url_points_to_the_api(hub: Hub, published: dict[str, Any]) -> None:
    with ServerThread(hub.hub, pages=False) as api_only:
        page = httpx.get(f"{api_only.url}/team/encoder")
        assert page.status_code == 200
        assert page.json()["api"] == "/api/v1/models/team/encoder"
        pinned = httpx.get(f"{api_only.url}/team/encoder/2").json()
        assert pinned["version_api"] == "/api/v1/models/team/encoder/versions/2"
        assert httpx.get(f"{api_only.url}/team/encoder/7").status_code == 404
        assert httpx.get(f"{api_only.url}/").json()["api"] == "/api/v1/models"


@pytest.mark.parametrize(
    ("path", "fmt", "status", "code"),
    [
        ("team/nothing/1", "compressed", 404, "not_found"),
        ("nobody/encoder", "compressed", 404, "not_found"),
        ("team/encoder/9", "compressed", 404, "not_found"),
        ("team/encoder/01", "compressed", 400, "invalid_version"),
        ("team/encoder/x", "compressed", 400, "invalid_version"),
        ("team/encoder/1", "zip", 400, "invalid"),
        ("team/encoder/1/extra/parts", "compressed", 404, "not_found"),
    ],
)
def test_errors_are_json_with_a_code(
    hub: Hub, published: dict[str, Any], path: str, fmt: str, status: int, code: str
) -> None:
    r = get(hub, path, fmt)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


def test_a_trailing_slash_is_accepted(hub: Hub, published: dict[str, Any]) -> None:
    r = get(hub, "team/encoder/1/", follow_redirects=True)
    assert r.status_code == 200 and r.headers["x-tfhub-version"] == "1"
