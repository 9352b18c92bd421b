"""HTTP downloads: timeouts, retries with backoff, resume with ``Range``, digest checks.

:class:`ArchiveDownload` is a readable byte stream over a URL. It tees every byte into a
``.part`` file so an interrupted download (network failure, or the process killed) resumes
where it stopped, from this process (transparently) or the next one. The archive can be
extracted while it downloads.

Example:
    >>> from tfhub.config import Settings
    >>> client = make_client(Settings())
    >>> client.close()
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import logging
import os
import random
import re
import time
from collections.abc import Iterator
from typing import IO, Any

import httpx

from tfhub._version import __version__
from tfhub.config import Settings
from tfhub.core.handle import redact_url
from tfhub.core.progress import Progress, start_progress
from tfhub.errors import DownloadError, IntegrityError, ModelNotFoundError

logger = logging.getLogger("tfhub")

_CHUNK = 1 << 20
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_SHA256_HEX = re.compile(r'^(?:W/)?"?([0-9a-fA-F]{64})"?$')


def make_client(settings: Settings) -> httpx.Client:
    """An HTTP client with tfhub's timeouts, proxies from the environment and token rule.

    The bearer token (``TFHUB_TOKEN``) is added to a request only when its host is
    ``TFHUB_TOKEN_HOST``; it is never sent anywhere else, not even after a redirect.
    """
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )
    hooks: dict[str, list[Any]] = {"request": [_token_hook(settings)]}
    return httpx.Client(
        timeout=timeout,
        trust_env=True,
        follow_redirects=True,
        max_redirects=10,
        headers={"User-Agent": f"tfhub/{__version__}", "Accept-Encoding": "identity"},
        event_hooks=hooks,
    )


def _token_hook(settings: Settings) -> Any:
    token, host = settings.token, settings.token_host

    def add_token(request: httpx.Request) -> None:
        request.headers.pop("Authorization", None)
        if not token or not host:
            return
        url = request.url
        if host in (url.host, f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"):
            request.headers["Authorization"] = f"Bearer {token}"

    return add_token


def expected_sha256(headers: httpx.Headers) -> str | None:
    """The sha256 the server announces: ``Repr-Digest``/``Digest``/``X-Checksum-Sha256``/ETag.

    >>> h = httpx.Headers({"ETag": '"' + "ab" * 32 + '"'})
    >>> expected_sha256(h) == "ab" * 32
    True
    """
    for name in ("repr-digest", "content-digest", "digest"):
        for part in str(headers.get(name, "")).split(","):
            algo, _, value = part.strip().partition("=")
            if algo.strip().lower() in ("sha-256", "sha256") and value:
                value = str(value).strip().strip(":")
                if re.fullmatch(r"[0-9a-fA-F]{64}", value):
                    return value.lower()
                try:
                    raw = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    continue
                if len(raw) == 32:
                    return raw.hex()
    checksum = str(headers.get("x-checksum-sha256", "")).strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", checksum):
        return checksum.lower()
    match = _SHA256_HEX.match(headers.get("etag", "").strip())
    return str(match.group(1).lower()) if match else None


def describe_status(response: httpx.Response, label: str) -> DownloadError | ModelNotFoundError:
    """The tfhub error for an unexpected HTTP status."""
    status = response.status_code
    if status == 404 or status == 410:
        return ModelNotFoundError(f"No model at {label} (HTTP {status}). Check the handle.")
    if status in (401, 403):
        return DownloadError(
            f"Access to {label} was denied (HTTP {status}). If the hub needs a token, set "
            "TFHUB_TOKEN and TFHUB_TOKEN_HOST."
        )
    return DownloadError(f"{label} answered HTTP {status} {response.reason_phrase}.")


def backoff(attempt: int, response: httpx.Response | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, jittered, capped."""
    if response is not None:
        retry_after = response.headers.get("retry-after", "")
        if retry_after.isdigit():
            return min(float(retry_after), 30.0)
    return float(min(0.25 * 2 ** (attempt - 1), 8.0) * (0.5 + random.random()))


class RestartNeededError(DownloadError):
    """The transfer broke and the server cannot resume it: the caller should start over."""


class ArchiveDownload(io.RawIOBase):
    """A resumable, verified byte stream of ``url``, teed into ``part_path``.

    Args:
        client: from :func:`make_client`.
        url: what to fetch.
        part_path: where bytes are kept for resuming; ``part_path + ".json"`` holds the
            validator (ETag / Last-Modified) that makes resuming safe.
        label: the handle, for messages and the progress bar.
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
        self.attempt = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")
        self._replay: io.BufferedReader | None = None
        self._part: IO[bytes] | None = None
        self._progress: Progress | None = None
        self._connect()

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

    def close(self) -> None:
        self._close_response()
        if self._part is not None:
            self._part.close()
            self._part = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        super().close()

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    # -- internals ------------------------------------------------------------------------
    def _next_chunk(self) -> bytes:
        if self._replay is not None:
            chunk = self._replay.read(_CHUNK)
            if chunk:
                self._account(chunk)
                return chunk
            self._replay.close()
            self._replay = None
        while True:
            try:
                assert self._chunks is not None
                chunk = next(self._chunks, b"")
            except (httpx.TransportError, httpx.StreamError) as e:
                self._retry(f"transfer interrupted after {self.delivered} bytes: {e!r}")
                continue
            if not chunk:
                return self._finish()
            assert self._part is not None
            self._part.write(chunk)
            self._account(chunk)
            return chunk

    def _account(self, chunk: bytes) -> None:
        self.digest.update(chunk)
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
        return b""

    def _retry(self, why: str) -> None:
        self._close_response()
        self._bump(why)
        self._connect(resume_from=self.delivered)

    def _saved_validator(self) -> dict[str, Any] | None:
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta: dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            return None
        if meta.get("url") != self.url or not (meta.get("etag") or meta.get("last_modified")):
            return None
        return meta

    def _connect(self, resume_from: int | None = None) -> None:
        """Sends the request; on a first call, resumes from a ``.part`` left by a dead run."""
        headers: dict[str, str] = {}
        meta = None
        offset = 0
        if resume_from is None:
            meta = self._saved_validator()
            if meta is not None and os.path.exists(self.part_path):
                offset = os.path.getsize(self.part_path)
        else:
            meta = self._saved_validator()
            offset = resume_from
        if offset and meta is not None:
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = meta.get("etag") or meta["last_modified"]
        else:
            offset = 0
        while True:
            try:
                request = self.client.build_request("GET", self.url, headers=headers)
                response = self.client.send(request, stream=True)
            except httpx.TooManyRedirects as e:
                raise DownloadError(f"{self.label} redirects too many times: {e}.") from e
            except httpx.TransportError as e:
                self._bump(f"cannot connect: {e!r}")
                continue
            if response.status_code in _TRANSIENT_STATUS:
                response.close()
                self._bump(f"HTTP {response.status_code}", response)
                continue
            if response.status_code == 416 and offset:
                response.close()
                self._restart_part()
                headers, offset = {}, 0
                continue
            break
        if response.status_code not in (200, 206):
            response.close()
            raise describe_status(response, self.label)
        self._start_stream(response, offset)

    def _bump(self, why: str, response: httpx.Response | None = None) -> None:
        self.attempt += 1
        if self.attempt > self.settings.retries:
            raise DownloadError(
                f"Downloading {self.label} failed after {self.settings.retries} retries: {why}. "
                "Check that the server is reachable and run the same call again; "
                "it resumes where it stopped."
            )
        wait = backoff(self.attempt, response)
        logger.warning("%s: %s; retry %d in %.1f s", self.label, why, self.attempt, wait)
        time.sleep(wait)

    def _start_stream(self, response: httpx.Response, offset: int) -> None:
        resumed = response.status_code == 206 and _range_start(response) == offset and offset > 0
        if response.status_code == 206 and not resumed:
            response.close()
            self._restart_part()
            raise DownloadError(f"{self.label} answered a range request with the wrong range.")
        self._response = response
        self.content_type = response.headers.get("content-type")
        length = response.headers.get("content-length")
        body = int(length) if length and length.isdigit() else None
        if not resumed and self.delivered > 0:
            # Bytes already went to the reader and the server will not continue them.
            response.close()
            self._restart_part()
            raise RestartNeededError(
                f"{self.label} cannot resume the interrupted download; it must start again."
            )
        if not resumed:
            self._restart_part()
            self.total = body
            self.expected = expected_sha256(response.headers)
            self._save_validator(response)
        elif body is not None:
            self.total = offset + body
        if self._part is None:
            self._part = open(self.part_path, "r+b" if resumed else "wb")  # noqa: SIM115
        part = self._part
        part.truncate(offset)
        part.seek(offset)
        if resumed and self.delivered < offset:
            # A fresh process: replay what a dead run left, hashing it, before the network.
            self._replay = open(self.part_path, "rb")  # noqa: SIM115
            self._replay.seek(self.delivered)
            logger.info("%s: resuming at byte %d", self.label, offset)
        if self._progress is None:
            self._progress = start_progress(self.label, self.total, self.settings)
        self._chunks = response.iter_raw(_CHUNK)

    def _restart_part(self) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None
        self.digest = hashlib.sha256()
        self.delivered = 0
        self._replay = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.part_path)

    def _save_validator(self, response: httpx.Response) -> None:
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        accepts = response.headers.get("accept-ranges", "").lower() == "bytes"
        meta = {
            "url": self.url,
            "etag": etag if etag and not etag.startswith("W/") else None,
            "last_modified": last_modified,
            "accept_ranges": accepts,
        }
        with open(self.meta_path, "w", encoding="utf-8") as f:
            json.dump(meta, f)

    def _discard_part(self) -> None:
        for path in (self.part_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _close_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
            self._chunks = None

    def discard(self) -> None:
        """Closes the stream and deletes the ``.part`` file (the archive was bad)."""
        self.close()
        self._discard_part()


def _range_start(response: httpx.Response) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("content-range", ""))
    return int(match.group(1)) if match else None


def find_redirect(client: httpx.Client, url: str, *, label: str) -> str:
    """For ``tf-hub-format=uncompressed``: the storage location the server's 303 points to."""
    try:
        response = client.get(url, follow_redirects=False)
    except httpx.TransportError as e:
        raise DownloadError(f"Cannot reach {label}: {e!r}.") from e
    if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
        return str(response.url.join(response.headers["location"]))
    if response.status_code == 200:
        raise DownloadError(
            f"{label} does not serve models uncompressed (expected a 303 redirect to storage, "
            f"got HTTP 200 {response.headers.get('content-type', '')}). Unset "
            "TFHUB_MODEL_LOAD_FORMAT to download the archive instead."
        )
    raise describe_status(response, label)


__all__ = [
    "ArchiveDownload",
    "RestartNeededError",
    "expected_sha256",
    "find_redirect",
    "make_client",
    "redact_url",
]
