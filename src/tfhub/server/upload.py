"""Receiving a publish request: the body streamed to a temporary file, with a size limit.

Two request shapes are accepted:

* ``multipart/form-data`` (what ``tfhub publish`` and ``curl -F`` send) with the fields
  ``archive`` (the model archive, required), ``readme`` (Markdown), ``description`` and
  ``tags`` (comma-separated, or repeated). The README travels as its own part, so it can be
  as large as the hub allows (``TFHUB_SERVER_MAX_README_BYTES``) without any header limit,
  and the whole version arrives in one request, which either publishes it or changes nothing.
* a bare archive body (``Content-Type: application/gzip``, ``application/zstd``,
  ``application/x-tar`` or ``application/octet-stream``), for ``curl --data-binary``.

More than ``TFHUB_SERVER_MAX_UPLOAD_BYTES`` is refused with 413 (at once when
``Content-Length`` says so, otherwise when the limit is passed). A client that disconnects
leaves nothing: the temporary file is deleted.

Example (in an endpoint)::

    fields = await receive(request, hub.settings, work_dir)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

import anyio
from starlette.requests import Request

from tfhub.errors import ServerError
from tfhub.server.multipart import END, MultipartParser, Part, boundary_of
from tfhub.server.settings import ServerSettings

_FLUSH = 1 << 20
_TEXT_FIELDS = ("readme", "description", "tags")
_MAX_SMALL_FIELD = 64 << 10
ARCHIVE_TYPES = (
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-tar",
    "application/octet-stream",
)


@dataclass
class Received:
    """The fields of a publish request; ``archive`` is a file in the work directory."""

    archive: str
    readme: str = ""
    description: str | None = None
    tags: list[str] | None = None


def too_large(limit: int) -> ServerError:
    return ServerError(
        f"The upload is larger than this hub accepts ({limit} bytes; the operator sets "
        "TFHUB_SERVER_MAX_UPLOAD_BYTES).",
        status=413,
        code="too_large",
    )


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise too_large(limit)
        yield chunk


class _Sink:
    """Buffers writes to a file and flushes them on a worker thread."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.pending, self.size = f, bytearray(), 0

    async def write(self, data: bytes) -> None:
        self.pending += data
        if len(self.pending) >= _FLUSH:
            await self.flush()

    async def flush(self) -> None:
        if self.pending:
            data, self.pending = bytes(self.pending), bytearray()
            self.size += len(data)
            await anyio.to_thread.run_sync(self.f.write, data)


async def receive(request: Request, settings: ServerSettings, work_dir: str) -> Received:
    """Streams the request body into ``work_dir``; returns its fields.

    Raises:
        ServerError: 400 (malformed, no archive), 413 (too large), 415 (unknown type).
        starlette.requests.ClientDisconnect: the client went away.
    """
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    path = os.path.join(work_dir, "upload")
    body = _limited(request, settings.max_upload_bytes)
    with open(path, "wb") as f:
        sink = _Sink(f)
        if media == "multipart/form-data":
            received = await _multipart(body, boundary_of(content_type), sink, settings)
        elif media in ARCHIVE_TYPES:
            async for chunk in body:
                await sink.write(chunk)
            await sink.flush()
            received = Received("")
        else:
            raise ServerError(
                f"Unsupported Content-Type {media or '(none)'!r}: send multipart/form-data with "
                "an 'archive' field, or the archive itself as application/gzip.",
                status=415,
                code="unsupported_media_type",
            )
    if sink.size == 0:
        raise ServerError(
            "The request holds no archive: send the model archive in the 'archive' field.",
            code="no_archive",
        )
    received.archive = path
    return received


async def _multipart(
    body: AsyncIterator[bytes], boundary: bytes, sink: _Sink, settings: ServerSettings
) -> Received:
    parser = MultipartParser(boundary)
    fields: dict[str, bytearray] = {}
    lists: dict[str, list[str]] = {}
    current: str | None = None
    archive_seen = False
    async for chunk in body:
        for event in parser.feed(chunk):
            if isinstance(event, Part):
                current = _start_part(event, archive_seen)
                archive_seen |= current == "archive"
                if current != "archive":
                    fields[current] = bytearray()
            elif event is END:
                if current is not None and current != "archive":
                    lists.setdefault(current, []).append(_text(current, fields.pop(current)))
                current = None
            elif isinstance(event, bytes) and current == "archive":
                await sink.write(event)
            elif isinstance(event, bytes) and current is not None:
                fields[current] += event
                _check_field_size(current, len(fields[current]), settings)
    parser.finish()
    await sink.flush()
    return _received(lists)


def _start_part(part: Part, archive_seen: bool) -> str:
    if part.name == "archive":
        if archive_seen:
            raise ServerError("The request has two 'archive' fields; send one.", code="invalid")
        return "archive"
    if part.name not in _TEXT_FIELDS:
        raise ServerError(
            f"Unknown field {part.name!r}; the fields are archive, readme, description, tags.",
            code="invalid",
        )
    return part.name


def _check_field_size(name: str, size: int, settings: ServerSettings) -> None:
    limit = settings.max_readme_bytes if name == "readme" else _MAX_SMALL_FIELD
    if size > limit:
        raise ServerError(
            f"The {name} field is larger than this hub accepts ({limit} bytes).",
            status=413,
            code="too_large",
        )


def _text(name: str, data: bytearray) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise ServerError(f"The {name} field is not UTF-8 text.", code="invalid") from None


def _received(lists: dict[str, list[str]]) -> Received:
    tags: list[str] | None = None
    if "tags" in lists:
        tags = [t.strip() for value in lists["tags"] for t in value.split(",") if t.strip()]
    readme = "\n\n".join(lists.get("readme", []))
    description = lists["description"][-1] if "description" in lists else None
    return Received("", readme=readme, description=description, tags=tags)
