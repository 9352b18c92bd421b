"""A resumable, verified archive download that reads like a file.

:class:`ArchiveDownload` tees every byte it hands out into a ``.part`` file, so an interrupted
download (network failure, or the process killed) resumes where it stopped: from this process
(transparently, with ``Range`` + ``If-Range``) or from the next one (which replays the ``.part``
file, then continues from the network). The archive is extracted while it downloads.

The body is received on a helper thread (:class:`_Receiver`): it writes each piece to the
``.part`` file and hashes it, while the reader decompresses and writes the model on the other
core (socket reads, file writes and sha256 all release the GIL). At most ``_DEPTH`` chunks
wait between the two, so memory stays flat. Everything else (retries, resuming, restarting,
checking the digest) happens on the reader's thread, between bodies.

Example (``client`` from :func:`~tfhub.core.http.make_client`)::

    download = ArchiveDownload(client, url, part_path, label=url, settings=settings).start()
    with download:
        entries = extract_archive(download, model_dir, label=url)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import re
import threading
from typing import IO, Any

import httpx

from tfhub.config import Settings
from tfhub.core.handle import redact_url
from tfhub.core.http import (
    TRANSIENT_ERRORS,
    Retrier,
    describe_error,
    describe_status,
    expected_sha256,
    raw_body,
    send,
    shutdown,
)
from tfhub.core.progress import Progress, start_progress
from tfhub.errors import DownloadError, IntegrityError

logger = logging.getLogger("tfhub")

_CHUNK = 256 << 10
"""Largest piece read from the connection; pieces are gathered up to this size while the
reader is busy. (1 MiB pieces save a little CPU but double the memory in use.)"""
_DEPTH = 4
"""Chunks that may wait for the reader: at most ``_DEPTH * _CHUNK`` bytes (1 MiB)."""


class RestartNeededError(DownloadError):
    """The transfer broke and the server cannot resume it: the caller should start over."""


class ArchiveDownload(io.RawIOBase):
    """A resumable, verified byte stream of ``url``, teed into ``part_path``.

    Call :meth:`start` first (it sends the request), then read to the end: the last read
    checks the length and the sha256 the server announced.

    Args:
        client: from :func:`~tfhub.core.http.make_client`.
        url: what to fetch.
        part_path: where bytes are kept for resuming; ``part_path + ".json"`` holds the
            validator (ETag / Last-Modified) that makes resuming safe, and the digest.
        label: the handle, for messages and progress.
        settings: retries and progress settings.
    """

    def __init__(
        self, client: httpx.Client, url: str, part_path: str, *, label: str, settings: Settings
    ) -> None:
        super().__init__()
        self.client, self.url, self.label, self.settings = client, url, label, settings
        self.part_path, self.meta_path = part_path, part_path + ".json"
        self.content_type: str | None = None
        self.total: int | None = None
        self.expected: str | None = None
        self.digest = hashlib.sha256()
        self.delivered = 0
        self.retrier = Retrier(label, settings.retries)
        self._meta: dict[str, Any] | None = None
        self._response: httpx.Response | None = None
        self._receiver: _Receiver | None = None
        self._pending = memoryview(b"")
        self._replay: IO[bytes] | None = None
        self._part: IO[bytes] | None = None
        self._progress: Progress | None = None
        self._done = False

    def start(self) -> ArchiveDownload:
        """Sends the request, resuming from a ``.part`` file a dead run left if it can."""
        self._meta = self._saved_meta()
        offset = 0
        if self._meta is not None:
            with contextlib.suppress(OSError):
                offset = os.path.getsize(self.part_path)
        self._connect(offset)
        return self

    # -- io.RawIOBase -----------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = memoryview(self._next_chunk())
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes; a whole received chunk is returned without copying it."""
        if size < 0:
            return self.readall()
        if not size:
            return b""
        if not self._pending:
            chunk = self._next_chunk()
            if len(chunk) <= size:
                return chunk
            self._pending = memoryview(chunk)
        data = self._pending[:size].tobytes()
        self._pending = self._pending[size:]
        return data

    def close(self) -> None:
        self._close_response()
        for f in (self._part, self._replay):
            if f is not None:
                f.close()
        self._part = self._replay = None
        if self._progress is not None:
            self._progress.close(ok=self._done)
            self._progress = None
        super().close()

    def discard(self) -> None:
        """Closes the stream and deletes the ``.part`` file (the archive was bad or used)."""
        self.close()
        self._discard_part()

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    # -- reading ------------------------------------------------------------------------
    def _next_chunk(self) -> bytes:
        while True:
            assert self._receiver is not None, "start() was not called"
            try:
                chunk = self._receiver.get()
            except TRANSIENT_ERRORS as e:
                why = f"transfer interrupted after {self.delivered} bytes ({describe_error(e)})"
                self._retry(why)
                continue
            except httpx.TransportError as e:
                raise DownloadError(
                    f"Downloading {self.label} failed: {describe_error(e)}. Run the same call "
                    "again; it resumes where it stopped."
                ) from e
            if not chunk:
                return self._finish()
            self._account(chunk)
            return chunk

    def _account(self, chunk: bytes) -> None:
        self.delivered += len(chunk)
        if self._progress is not None:
            self._progress.update(len(chunk))

    def _finish(self) -> bytes:
        if self.total is not None and self.delivered < self.total:
            self._retry(f"connection closed at {self.delivered} of {self.total} bytes")
            return self._next_chunk()
        if self._part is not None:
            self._part.flush()
        if self.expected and self.sha256 != self.expected:
            self._discard_part()
            raise IntegrityError(
                f"The archive from {self.label} does not match the sha256 the server sent "
                f"(expected {self.expected}, got {self.sha256}). Nothing was installed; retry, "
                "and report it to the hub's owner if it persists."
            )
        self._done = True
        return b""

    def _retry(self, why: str) -> None:
        self._close_response()
        self.retrier.bump(why)
        self._connect(self.delivered)

    # -- connecting -----------------------------------------------------------------------
    def _connect(self, offset: int) -> None:
        """Requests the bytes from ``offset`` on (all of them if resuming is not safe).

        Raises :class:`RestartNeededError`, with the stream rewound to the first byte of a
        fresh answer, when bytes already went to the reader and the server cannot resume."""
        headers: dict[str, str] = {}
        validator = self._meta and (self._meta.get("etag") or self._meta.get("last_modified"))
        if offset and validator:
            headers = {"Range": f"bytes={offset}-", "If-Range": str(validator)}
        else:
            offset = 0
        response = send(self.client, self.url, self.retrier, headers=headers)
        status, start = response.status_code, _range_start(response)
        if status not in (200, 206, 416) or (status == 416 and not offset):
            response.close()
            raise describe_status(response, self.label)
        if status == 206 and offset and start == offset:
            self._begin_resumed(response, offset)
        elif status == 200 or (status == 206 and start == 0):
            replaced = self.delivered > 0
            self._restart_part()
            self._begin_fresh(response)
            self._attach(response)
            if replaced:
                raise RestartNeededError(
                    f"{self.label} cannot resume the interrupted download; it starts again."
                )
            return
        else:  # 416, or a range we did not ask for: what we have cannot be continued
            response.close()
            if not offset:
                raise DownloadError(
                    f"{self.label} answered a request for the whole archive with HTTP 206 and "
                    "no usable Content-Range; the server is misconfigured. Tell its owner."
                )
            return self._start_over()
        self._attach(response)

    def _start_over(self) -> None:
        replaced = self.delivered > 0
        self._restart_part()
        self._connect(0)
        if replaced:
            raise RestartNeededError(f"{self.label} cannot resume the download; it starts again.")

    def _attach(self, response: httpx.Response) -> None:
        self._response = response
        self.content_type = response.headers.get("content-type")
        if self._progress is None:
            self._progress = start_progress(self.label, self.total, self.settings)
        replay, self._replay = self._replay, None
        assert self._part is not None
        self._receiver = _Receiver(response, self._part, self.digest, replay)

    def _begin_fresh(self, response: httpx.Response) -> None:
        length = response.headers.get("content-length", "")
        self.total = _range_total(response) or (int(length) if length.isdigit() else None)
        self.expected = expected_sha256(response.headers)
        self._save_meta(response)
        self._part = open(self.part_path, "wb")  # noqa: SIM115

    def _begin_resumed(self, response: httpx.Response, offset: int) -> None:
        self.total = _range_total(response)
        self.expected = expected_sha256(response.headers, partial=True) or self.expected
        if self.expected is None and self._meta is not None:
            self.expected = self._meta.get("sha256") or None
        if self._part is None:
            self._part = open(self.part_path, "r+b")  # noqa: SIM115
        self._part.truncate(offset)
        self._part.seek(offset)
        if self.delivered < offset:
            # A fresh process: replay what a dead run left (the receiver hashes it first).
            self._replay = open(self.part_path, "rb")  # noqa: SIM115
            self._replay.seek(self.delivered)
            logger.info("%s: resuming at byte %d", self.label, offset)

    # -- the .part file -----------------------------------------------------------------------
    def _saved_meta(self) -> dict[str, Any] | None:
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta: dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("url") != redact_url(self.url):
            return None
        return meta

    def _save_meta(self, response: httpx.Response) -> None:
        etag = response.headers.get("etag")
        self._meta = {
            "url": redact_url(self.url),  # no credentials on disk
            "etag": etag if etag and not etag.startswith("W/") else None,
            "last_modified": response.headers.get("last-modified"),
            "sha256": self.expected,
        }
        with open(self.meta_path, "w", encoding="utf-8") as f:
            json.dump(self._meta, f)

    def _restart_part(self) -> None:
        """Forgets every byte: the ``.part`` file, the digest, what the reader was given."""
        for f in (self._part, self._replay):
            if f is not None:
                f.close()
        self._part = self._replay = None
        if self._progress is not None and self.delivered:
            self._progress.close(ok=False)
            self._progress = None
        self.digest = hashlib.sha256()
        self.delivered = 0
        self._pending = memoryview(b"")
        self._discard_part()
        self._meta = None

    def _discard_part(self) -> None:
        for path in (self.part_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _close_response(self) -> None:
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        if self._response is not None:
            self._response.close()
            self._response = None


class _Stopped(Exception):
    """The reader stopped the receiver (internal)."""


class _Receiver:
    """Receives one response body on a helper thread, in chunks of up to ``_CHUNK`` bytes.

    Each chunk is written to the ``.part`` file and hashed before the reader gets it, so when
    the reader has taken the end (or the error that ended the body), the ``.part`` file and
    the digest cover exactly the bytes it was given. ``replay`` (the ``.part`` of a dead run,
    positioned at the first byte the reader has not seen) is hashed and handed on first.
    The receiver owns ``replay`` and closes it; ``part`` and ``digest`` are the caller's
    again once the end or an error was taken from :meth:`get`, or after :meth:`stop`.
    """

    def __init__(
        self, response: httpx.Response, part: IO[bytes], digest: Any, replay: IO[bytes] | None
    ) -> None:
        self._response, self._part, self._digest, self._replay = response, part, digest, replay
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(_DEPTH)
        self._stopped = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="tfhub-download", daemon=True)
        self._thread.start()

    def get(self) -> bytes:
        """The next chunk, or b"" at (and after) the end of the body; raises what receiving
        raised."""
        if self._ended:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException) or not item:
            self._ended = True
            self._thread.join()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stops receiving (the reader gave up) and waits for the thread to end."""
        self._stopped.set()
        self._drain()  # unblocks a put
        self._thread.join(0.05)
        if self._thread.is_alive():  # blocked in a read: make the socket return
            shutdown(self._response)
            self._drain()
            self._thread.join()

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def _put(self, item: bytes | BaseException) -> None:
        if self._stopped.is_set():
            raise _Stopped
        self._queue.put(item)

    def _run(self) -> None:
        try:
            self._replay_part()
            self._receive()
        except _Stopped:
            pass
        except BaseException as e:  # handed to the reader, which raises it
            with contextlib.suppress(_Stopped):
                self._put(e)
        finally:
            if self._replay is not None:
                self._replay.close()

    def _replay_part(self) -> None:
        if self._replay is None:
            return
        while chunk := self._replay.read(_CHUNK):
            self._digest.update(chunk)
            self._put(chunk)

    def _receive(self) -> None:
        """Writes and hashes each piece as it arrives (a killed run keeps it); hands pieces
        on gathered up to ``_CHUNK`` bytes, or at once when the reader is waiting for them."""
        pieces: list[bytes] = []
        size = 0
        body = raw_body(self._response, _CHUNK)
        while True:
            try:
                piece = next(body, b"")
            except BaseException:
                if pieces:  # what arrived is good: the next try resumes after it
                    self._hand_on(pieces)
                raise
            if not piece:
                break
            if self._stopped.is_set():
                raise _Stopped
            self._part.write(piece)
            self._digest.update(piece)
            pieces.append(piece)
            size += len(piece)
            if size >= _CHUNK or self._queue.empty():
                self._hand_on(pieces)
                pieces, size = [], 0
        if pieces:
            self._hand_on(pieces)
        self._put(b"")

    def _hand_on(self, pieces: list[bytes]) -> None:
        self._put(pieces[0] if len(pieces) == 1 else b"".join(pieces))


def _range_start(response: httpx.Response) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("content-range", ""))
    return int(match.group(1)) if match else None


def _range_total(response: httpx.Response) -> int | None:
    match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("content-range", ""))
    if match is None:
        return None
    if match.group(3) != "*":
        return int(match.group(3))
    return int(match.group(2)) + 1
