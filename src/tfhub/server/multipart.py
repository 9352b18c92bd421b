"""A streaming ``multipart/form-data`` parser for publish requests (RFC 7578).

Bytes go in as they arrive (:meth:`MultipartParser.feed`); events come out: a part's
headers, pieces of its body, its end. Bodies are never gathered in memory, so a
multi-gigabyte archive part streams straight to disk.

Example:
    >>> p = MultipartParser(boundary_of("multipart/form-data; boundary=XyZ"))
    >>> body = (b"--XyZ\\r\\nContent-Disposition: form-data; name=\\"readme\\"\\r\\n\\r\\n# Hi"
    ...         b"\\r\\n--XyZ--\\r\\n")
    >>> events = [e for i in range(len(body)) for e in p.feed(body[i : i + 1])] + p.finish()
    >>> [e.name for e in events if isinstance(e, Part)], b"".join(
    ...     e for e in events if isinstance(e, bytes))
    (['readme'], b'# Hi')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tfhub.errors import ServerError

MAX_HEADER_BYTES = 16 << 10
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{1,70}")


def bad_body(why: str) -> ServerError:
    return ServerError(f"Malformed multipart body: {why}.", code="bad_multipart")


def params(header: str) -> dict[str, str]:
    """``form-data; name="a"; filename="b.tgz"`` -> ``{"name": "a", "filename": "b.tgz"}``."""
    found: dict[str, str] = {}
    for match in _PARAM.finditer(header):
        quoted, plain = match.group(2), match.group(3)
        found[match.group(1).lower()] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain or ""
        )
    return found


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type (400 if there is none)."""
    boundary = params(content_type).get("boundary", "")
    if not _BOUNDARY.fullmatch(boundary) or boundary.endswith(" "):
        raise bad_body("the Content-Type names no valid boundary")
    return boundary.encode("ascii")


@dataclass(frozen=True)
class Part:
    """The start of a part: its form field name, file name and headers (lower-case)."""

    name: str
    filename: str | None
    headers: dict[str, str]


class End:
    """The end of the current part."""


END = End()


class MultipartParser:
    """Feed it the body; it returns :class:`Part`, ``bytes`` and :data:`END` events."""

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.buffer = b"\r\n"  # so the first delimiter looks like every other one
        self.state = "preamble"

    def feed(self, data: bytes) -> list[Part | bytes | End]:
        self.buffer += data
        events: list[Part | bytes | End] = []
        while True:
            step = getattr(self, "_" + self.state)(events)
            if not step:
                return events

    def finish(self) -> list[Part | bytes | End]:
        """Checks that the body ended with the closing delimiter."""
        if self.state != "epilogue":
            raise bad_body("it ends before the closing boundary (was the upload cut?)")
        return []

    def _preamble(self, events: list[Part | bytes | End]) -> bool:
        at = self.buffer.find(self.delimiter)
        if at < 0:
            self.buffer = self.buffer[-len(self.delimiter) :]
            return False
        self.buffer = self.buffer[at + len(self.delimiter) :]
        self.state = "after_delimiter"
        return True

    def _after_delimiter(self, events: list[Part | bytes | End]) -> bool:
        stripped = self.buffer.lstrip(b" \t")
        if len(stripped) < 2:
            return False
        if stripped.startswith(b"--"):
            self.state, self.buffer = "epilogue", b""
            return False
        if not stripped.startswith(b"\r\n"):
            raise bad_body("a boundary is not followed by a line break")
        self.buffer, self.state = stripped[2:], "headers"
        return True

    def _headers(self, events: list[Part | bytes | End]) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 and self.buffer.startswith(b"\r\n"):
            end = -2  # no headers at all
        if end == -1:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise bad_body("a part's headers are too long")
            return False
        raw, self.buffer = self.buffer[: max(end, 0)], self.buffer[end + 4 :]
        events.append(_part(raw))
        self.state = "body"
        return True

    def _body(self, events: list[Part | bytes | End]) -> bool:
        at = self.buffer.find(self.delimiter)
        if at < 0:
            keep = len(self.delimiter) - 1
            if len(self.buffer) > keep:
                events.append(self.buffer[:-keep])
                self.buffer = self.buffer[-keep:]
            return False
        if at:
            events.append(self.buffer[:at])
        events.append(END)
        self.buffer = self.buffer[at + len(self.delimiter) :]
        self.state = "after_delimiter"
        return True

    def _epilogue(self, events: list[Part | bytes | End]) -> bool:
        self.buffer = b""
        return False


def _part(raw: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise bad_body(f"a part has a malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise bad_body("a part has no 'Content-Disposition: form-data' header")
    found = params(disposition)
    if "name" not in found:
        raise bad_body("a part has no field name")
    return Part(found["name"], found.get("filename"), headers)
