"""Database rows as the plain values the page templates show (built inside a session).

Example:
    >>> day(None), day(dt.datetime(2026, 5, 20, 10, 15, tzinfo=dt.UTC))
    ('', '2026-05-20')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tfhub.server.db import Model, Version
from tfhub.server.markdown import PAGE_HEADING_SHIFT, readme_html
from tfhub.server.page_model import Inspection, page_parts
from tfhub.server.snippets import Snippet
from tfhub.server.views import Urls, iso


def day(t: dt.datetime | None) -> str:
    """A timestamp as its UTC date."""
    return "" if t is None else t.astimezone(dt.UTC).date().isoformat()


@dataclass(frozen=True)
class Card:
    """A model in a list: home page, search results, publisher page."""

    publisher: str
    name: str
    description: str
    format: str
    latest_version: int
    tags: list[str]
    updated: str
    updated_iso: str


def card(model: Model, publisher: str | None = None) -> Card:
    return Card(
        publisher or model.publisher.name,
        model.name,
        model.description,
        model.format,
        model.latest_version,
        [t.tag for t in model.tags],
        day(model.updated_at),
        iso(model.updated_at) or "",
    )


@dataclass(frozen=True)
class VersionLink:
    number: int
    url: str
    created: str
    created_iso: str
    current: bool


@dataclass(frozen=True)
class ModelView:
    """One version of a model, as its page shows it. ``handle`` is the page's own URL
    (unversioned on the latest page), ``pinned_handle`` the versioned one."""

    publisher: str
    model: str
    number: int
    latest: int
    is_latest_page: bool
    private: bool
    format: str
    description: str
    tags: list[str]
    created: str
    created_iso: str
    handle: str
    pinned_handle: str
    archive_url: str
    unpacked_bytes: int
    files: int
    gzip_bytes: int
    zstd_bytes: int | None
    readme_html: str
    snippets: tuple[Snippet, ...]
    versions: list[VersionLink]


def model_view(
    model: Model, version: Version, versions: list[Version], urls: Urls, *, latest_page: bool
) -> tuple[ModelView, Inspection]:
    """The page of ``version`` (``latest_page``: reached without a version number)."""
    p, m, n = model.publisher.name, model.name, version.number
    handle = urls.handle(p, m, None if latest_page else n)
    parts = page_parts(version.inspect_json, version.format, handle)
    base = urls.path
    links = [
        VersionLink(
            v.number,
            f"{base}/{p}/{m}/{v.number}",
            day(v.created_at),
            iso(v.created_at) or "",
            v.number == n,
        )
        for v in versions
    ]
    view = ModelView(
        publisher=p,
        model=m,
        number=n,
        latest=model.latest_version,
        is_latest_page=latest_page,
        private=model.publisher.private,
        format=parts.format,
        description=model.description,
        tags=[t.tag for t in model.tags],
        created=day(version.created_at),
        created_iso=iso(version.created_at) or "",
        handle=handle,
        pinned_handle=urls.handle(p, m, n),
        archive_url=urls.archive(p, m, n),
        unpacked_bytes=version.unpacked_bytes,
        files=version.file_count,
        gzip_bytes=version.gzip_bytes,
        zstd_bytes=version.zstd_bytes,
        readme_html=readme_html(version.readme, heading_shift=PAGE_HEADING_SHIFT),
        snippets=parts.snippets,
        versions=links,
    )
    return view, parts.inspection
