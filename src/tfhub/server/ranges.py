"""HTTP conditional and range requests for archives (RFC 9110), decided without I/O.

:func:`plan` turns a request's ``If-None-Match``, ``If-Modified-Since``, ``Range`` and
``If-Range`` into what to send: 200 (everything), 206 (one range), 304 (not modified) or
416 (no byte of the range exists). Several ranges, or a malformed ``Range``, get the whole
archive (the RFC lets a server ignore such a ``Range``).

Example:
    >>> etag = '"' + "ab" * 32 + '"'
    >>> plan({"range": "bytes=10-19"}, size=100, etag=etag, modified=0)
    Plan(status=206, start=10, length=10)
    >>> plan({"range": "bytes=-5"}, size=100, etag=etag, modified=0)
    Plan(status=206, start=95, length=5)
    >>> plan({"if-none-match": etag}, size=100, etag=etag, modified=0).status
    304
    >>> plan({"range": "bytes=100-"}, size=100, etag=etag, modified=0).status
    416
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)


@dataclass(frozen=True)
class Plan:
    """What to answer: ``status``, and for 200/206 the bytes ``[start, start + length)``."""

    status: int
    start: int = 0
    length: int = 0


def http_date(timestamp: float) -> str:
    """``Last-Modified`` format: ``Wed, 20 May 2026 10:15:00 GMT``."""
    return email.utils.formatdate(timestamp, usegmt=True)


def _parse_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def _etags(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def _none_match(header: str, etag: str) -> bool:
    """``If-None-Match`` matches (weak comparison: ``W/"x"`` matches ``"x"``)."""
    tags = _etags(header)
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def not_modified(headers: Mapping[str, str], etag: str, modified: float) -> bool:
    """Whether a GET/HEAD with these headers gets 304. ``If-None-Match`` wins over
    ``If-Modified-Since`` when both are sent."""
    inm = headers.get("if-none-match")
    if inm is not None:
        return _none_match(inm, etag)
    ims = headers.get("if-modified-since")
    since = _parse_date(ims) if ims else None
    return since is not None and int(modified) <= since


def _if_range_holds(value: str, etag: str, modified: float) -> bool:
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag  # strong comparison; a weak tag never matches
    date = _parse_date(value)
    return date is not None and int(modified) == date


def range_plan(value: str, size: int) -> Plan | None:
    """The answer to ``Range: value`` for ``size`` bytes: 206 with one range, 416 if it
    cannot be satisfied, or None to ignore it (malformed, or several ranges).

    >>> range_plan("bytes=5-", 8), range_plan("bytes=0-1,4-5", 8)
    (Plan(status=206, start=5, length=3), None)
    """
    match = _RANGE.match(value)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = min(int(last), size)
        return Plan(206, size - suffix, suffix) if suffix else Plan(416)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return Plan(416)
    end = min(int(last), size - 1) if last else size - 1
    return Plan(206, start, end - start + 1)


def plan(headers: Mapping[str, str], *, size: int, etag: str, modified: float) -> Plan:
    """What to send for a GET/HEAD of an archive of ``size`` bytes (``headers`` with
    lower-case names)."""
    if not_modified(headers, etag, modified):
        return Plan(304)
    whole = Plan(200, 0, size)
    value = headers.get("range")
    if value is None:
        return whole
    if_range = headers.get("if-range")
    if if_range is not None and not _if_range_holds(if_range, etag, modified):
        return whole
    return range_plan(value, size) or whole
