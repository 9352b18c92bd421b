"""Rendering the hub's pages: Jinja2 templates, static files, and the headers every page gets.

Templates (``templates/``) and static files (``static/``) ship inside the package and are
read with :mod:`importlib.resources`. Autoescaping is always on. Every page is sent with a
strict Content-Security-Policy (only this hub's own scripts, styles and images; no inline
code), ``X-Content-Type-Options: nosniff`` and no framing. Static files are addressed as
``/static/<name>?v=<digest>`` and cached for a year; a changed file gets a new address.

Example:
    >>> sorted(assets())
    ['favicon.svg', 'hub.css', 'hub.js']
    >>> static_url("/hub", "hub.css").startswith("/hub/static/hub.css?v=")
    True
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import markupsafe
from starlette.responses import HTMLResponse, Response

from tfhub.server.page_model import format_label, human_bytes

PACKAGE = "tfhub.server"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Vary": "Cookie, Authorization",
}
_TICKS = re.compile(r"`([^`]+)`")
IMMUTABLE = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    """A static file, held in memory (they are a few kB)."""

    name: str
    body: bytes
    media_type: str
    digest: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


@functools.lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """The files of ``static/`` by name."""
    found = {}
    for entry in importlib.resources.files(PACKAGE).joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            body = entry.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:16]
            found[entry.name] = Asset(entry.name, body, _MEDIA_TYPES[suffix], digest)
    return found


def code_spans(text: str) -> markupsafe.Markup:
    """``text`` escaped, with its `backtick` spans as ``<code>``.

    >>> str(code_spans("run `a<b` <now>"))
    'run <code>a&lt;b</code> &lt;now&gt;'
    """
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(_TICKS.sub(r"<code>\1</code>", escaped))


def static_url(base: str, name: str) -> str:
    """The address of the static file ``name`` under the path prefix ``base``."""
    return f"{base}/static/{name}?v={assets()[name].digest}"


def static_response(name: str, version: str | None, if_none_match: str | None) -> Response:
    """The static file ``name`` (404 if unknown; 304 if the client has it)."""
    asset = assets().get(name)
    if asset is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    fresh = version == asset.digest
    headers = {
        "ETag": asset.etag,
        "Cache-Control": IMMUTABLE if fresh else "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match and asset.etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The template environment (autoescape on, undefined names are errors). Templates
    ship in the package: each is compiled once, never checked for changes on disk."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=True,
        auto_reload=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["format_label"] = format_label
    env.filters["code_spans"] = code_spans
    env.globals["static_url"] = static_url
    return env


def render_page(
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    private: bool = False,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context``, with the page headers. ``private`` pages
    (shown to a token holder) are not stored by shared caches."""
    html = environment().get_template(template).render(**context)
    all_headers = {**PAGE_HEADERS, "Cache-Control": "private, no-cache" if private else "no-cache"}
    all_headers.update(headers or {})
    return HTMLResponse(html, status_code=status, headers=all_headers)
