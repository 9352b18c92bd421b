"""Streaming ``multipart/form-data`` for publish requests (RFC 7578), parsed by
python-multipart.

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
from collections.abc import Callable
from dataclasses import dataclass

import python_multipart
import python_multipart.exceptions
from python_multipart.multipart import parse_options_header

from tfhub.errors import ServerError

MAX_HEADER_BYTES = 16 << 10
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{1,70}")


def bad_body(why: str) -> ServerError:
    return ServerError(f"Malformed multipart body: {why}.", code="bad_multipart")


def params(header: str) -> dict[str, str]:
    """``form-data; name="a"; filename="b.tgz"`` -> ``{"name": "a", "filename": "b.tgz"}``."""
    _, found = parse_options_header(header)
    return {k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in found.items()}


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
    """Feed it the body; it returns :class:`Part`, ``bytes`` and :data:`END` events.

    The parsing is python-multipart's (the parser Starlette uses), driven through its
    callbacks; this class only turns them into events and tfhub's errors.
    """

    def __init__(self, boundary: bytes) -> None:
        self._events: list[Part | bytes | End] = []
        self._field = self._value = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._ended = False

        def header_piece(target: str) -> Callable[[bytes, int, int], None]:
            def add(chunk: bytes, start: int, end: int) -> None:
                setattr(self, target, getattr(self, target) + chunk[start:end])
                if self._header_bytes + len(self._field) + len(self._value) > MAX_HEADER_BYTES:
                    raise bad_body("a part's headers are too long")

            return add

        def body(chunk: bytes, start: int, end: int) -> None:
            self._events.append(chunk[start:end])

        def header_end() -> None:  # python-multipart checked the line: "field: value"
            name = self._field.decode("utf-8", "replace").strip().lower()
            self._headers[name] = self._value.decode("utf-8", "replace").strip()
            self._header_bytes += len(self._field) + len(self._value) + 4
            self._field = self._value = b""

        def headers_done() -> None:
            self._events.append(_part(self._headers))
            self._headers, self._header_bytes = {}, 0

        def finished() -> None:
            self._ended = True

        self._parser = python_multipart.MultipartParser(
            boundary,
            {
                "on_header_field": header_piece("_field"),
                "on_header_value": header_piece("_value"),
                "on_header_end": header_end,
                "on_headers_finished": headers_done,
                "on_part_data": body,
                "on_part_end": lambda: self._events.append(END),
                "on_end": finished,
            },
            max_header_count=64,
            max_header_size=MAX_HEADER_BYTES,
        )

    def feed(self, data: bytes) -> list[Part | bytes | End]:
        try:
            self._parser.write(data)
        except python_multipart.exceptions.MultipartParseError as e:
            raise bad_body(str(e).rstrip(".")) from e
        events, self._events = self._events, []
        return events

    def finish(self) -> list[Part | bytes | End]:
        """Checks that the body ended with the closing delimiter."""
        if not self._ended:
            raise bad_body("it ends before the closing boundary (was the upload cut?)")
        return []


def _part(headers: dict[str, str]) -> Part:
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise bad_body("a part has no 'Content-Disposition: form-data' header")
    found = params(disposition)
    if "name" not in found:
        raise bad_body("a part has no field name")
    return Part(found["name"], found.get("filename"), headers)
