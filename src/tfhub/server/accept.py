"""Reading the ``Accept`` header: which archive a client wants, and whether it is a browser.

Example:
    >>> weights("text/html,application/xhtml+xml,*/*;q=0.8")["*/*"]
    0.8
    >>> wants_zstd("application/zstd, application/gzip;q=0.9"), wants_zstd("*/*")
    (True, False)
    >>> prefers_html("text/html,*/*;q=0.8"), prefers_html("*/*"), prefers_html(None)
    (True, False, False)
"""

from __future__ import annotations

ZSTD = "application/zstd"
"""The ``Accept`` media type that gets the zstd archive instead of gzip."""


def weights(accept: str | None) -> dict[str, float]:
    """The media types of an ``Accept`` header (lowercase) and their ``q`` values."""
    found: dict[str, float] = {}
    for item in (accept or "").split(","):
        media, *options = (p.strip() for p in item.split(";"))
        if not media:
            continue
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found[media.lower()] = q
    return found


def wants_zstd(accept: str | None) -> bool:
    """Whether ``Accept`` prefers ``application/zstd`` (q > 0, at least gzip's q)."""
    found = weights(accept)
    zstd = found.get(ZSTD, 0.0)
    return zstd > 0 and zstd >= found.get("application/gzip", 0.0)


def prefers_html(accept: str | None) -> bool:
    """Whether ``Accept`` names ``text/html`` (q > 0) and ranks JSON no higher: a browser
    (programs send ``*/*``, JSON, or nothing)."""
    found = weights(accept)
    html = found.get("text/html", 0.0)
    return html > 0 and html >= found.get("application/json", 0.0)
