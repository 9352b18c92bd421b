"""What the JSON API returns (and the pages show): plain dicts built from database rows.

Every URL in them is absolute, built from the hub's public address (``--public-url``, or
the address the request came to).

Example:
    >>> urls = Urls("http://127.0.0.1:8080/")
    >>> urls.handle("examples", "encoder", 2)
    'http://127.0.0.1:8080/examples/encoder/2'
    >>> urls.archive("examples", "encoder", 2)
    'http://127.0.0.1:8080/examples/encoder/2?tf-hub-format=compressed'
    >>> urls.path, Urls("https://models.example.com/hub/").path
    ('', '/hub')
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tfhub.server.accept import ZSTD
from tfhub.server.db import Model, Publisher, Version
from tfhub.server.markdown import readme_html
from tfhub.server.reports import shown
from tfhub.server.snippets import as_dict

API = "/api/v1"


def iso(t: dt.datetime | None) -> str | None:
    """``2026-05-20T10:15:00Z``."""
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of the hub at ``base``."""

    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    @property
    def path(self) -> str:
        """The path prefix of the hub ("" at the root, "/hub" behind a proxy path)."""
        return urllib.parse.urlsplit(self.base).path

    def handle(self, publisher: str, model: str, version: int | None = None) -> str:
        tail = "" if version is None else f"/{version}"
        return f"{self.base}/{publisher}/{model}{tail}"

    def archive(self, publisher: str, model: str, version: int | None = None) -> str:
        return self.handle(publisher, model, version) + "?tf-hub-format=compressed"

    def api(self, path: str) -> str:
        return f"{self.base}{API}{path}"


def model_summary(model: Model, urls: Urls) -> dict[str, Any]:
    p, m = model.publisher.name, model.name
    return {
        "publisher": p,
        "name": m,
        "description": model.description,
        "tags": [t.tag for t in model.tags],
        "format": model.format,
        "latest_version": model.latest_version,
        "updated_at": iso(model.updated_at),
        "handle": urls.handle(p, m),
        "api": urls.api(f"/models/{p}/{m}"),
    }


def version_summary(model: Model, version: Version, urls: Urls) -> dict[str, Any]:
    p, m = model.publisher.name, model.name
    return {
        "version": version.number,
        "created_at": iso(version.created_at),
        "format": version.format,
        "unpacked_bytes": version.unpacked_bytes,
        "archive_bytes": version.gzip_bytes,
        "handle": urls.handle(p, m, version.number),
        "api": urls.api(f"/models/{p}/{m}/versions/{version.number}"),
    }


def model_detail(model: Model, versions: list[Version], urls: Urls) -> dict[str, Any]:
    return {
        **model_summary(model, urls),
        "created_at": iso(model.created_at),
        "private": model.publisher.private,
        "versions": [version_summary(model, v, urls) for v in versions],
    }


def version_detail(model: Model, version: Version, urls: Urls) -> dict[str, Any]:
    p, m, n = model.publisher.name, model.name, version.number
    report = shown(version.inspect_json, version.format, urls.handle(p, m, n))
    archives: dict[str, Any] = {
        "gzip": {
            "url": urls.archive(p, m, n),
            "bytes": version.gzip_bytes,
            "sha256": version.gzip_sha256,
        }
    }
    if version.zstd_key is not None:
        archives["zstd"] = {
            "url": urls.archive(p, m, n),
            "accept": ZSTD,
            "bytes": version.zstd_bytes,
            "sha256": version.zstd_sha256,
        }
    return {
        "publisher": p,
        "model": m,
        "version": n,
        "latest_version": model.latest_version,
        "is_latest": n == model.latest_version,
        "created_at": iso(version.created_at),
        "format": report.format,
        "description": model.description,
        "tags": [t.tag for t in model.tags],
        "handle": urls.handle(p, m, n),
        "latest_handle": urls.handle(p, m),
        "archives": archives,
        "uncompressed_url": urls.handle(p, m, n) + "?tf-hub-format=uncompressed",
        "unpacked_bytes": version.unpacked_bytes,
        "files": version.file_count,
        "readme": version.readme,
        "readme_html": readme_html(version.readme),
        "inspection": report.report,
        "snippets": as_dict(report.snippets),
    }


def publisher_detail(publisher: Publisher, models: list[Model], urls: Urls) -> dict[str, Any]:
    return {
        "name": publisher.name,
        "description": publisher.description,
        "private": publisher.private,
        "created_at": iso(publisher.created_at),
        "models": [model_summary(m, urls) for m in models],
        "api": urls.api(f"/publishers/{publisher.name}"),
    }
