"""Streaming an archive (or a byte range of it) out of storage.

From a local folder the file is sent with ``http.response.pathsend`` when the ASGI server
offers it (the server then uses ``sendfile``), else read in 1 MiB pieces on a worker thread;
from object storage it is streamed in ranged reads. Nothing is held in memory beyond one
piece, and a client that goes away stops the transfer.

Example (in an endpoint)::

    return StoredFileResponse(hub.storage, key, start=0, length=size, headers=headers)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tfhub.server.storage import Storage

CHUNK = 1 << 20


class StoredFileResponse(Response):
    """``length`` bytes of ``key`` from ``start`` (headers, including Content-Length and
    Content-Range, are the caller's)."""

    def __init__(
        self,
        storage: Storage,
        key: str,
        *,
        start: int,
        length: int,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.storage, self.key, self.start, self.length = storage, key, start, length
        self.status_code = status_code
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)

    def _whole_local_file(self, scope: Scope) -> str | None:
        path = self.storage.local_path(self.key)
        if path is None or self.start != 0 or self.status_code != 200:
            return None
        return path if "http.response.pathsend" in scope.get("extensions", {}) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        path = self._whole_local_file(scope)
        if path is not None:
            await send({"type": "http.response.pathsend", "path": path})
        else:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._stream(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await _until_disconnect(receive)
                group.cancel_scope.cancel()
        if self.background is not None:
            await self.background()

    async def _stream(self, send: Send) -> None:
        async for piece in self._pieces():
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _pieces(self) -> AsyncIterator[bytes]:
        path = self.storage.local_path(self.key)
        if path is not None:
            return _read_file(path, self.start, self.length)
        pieces: Iterator[bytes] = self.storage.read(self.key, self.start, self.length, CHUNK)
        return iterate_in_threadpool(pieces)


async def _read_file(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        while length > 0:
            piece = await f.read(min(CHUNK, length))
            if not piece:
                raise OSError(f"{path} is shorter than expected")
            length -= len(piece)
            yield piece


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            return
