"""Publishing to a hub from Python or ``tfhub publish``: pack, then stream the upload.

The model folder is packed into a temporary ``.tar.zst`` (or an existing archive file is
sent as it is), then streamed as ``multipart/form-data`` with the README, description and
tags, with a progress bar. The token is sent as ``Authorization: Bearer`` and never
printed or logged.

Example::

    from tfhub.server.client import publish_model
    result = publish_model("exported/encoder", "research/encoder",
                           server="http://127.0.0.1:8080", token=token, readme="README.md")
    print(result["handle"])      # http://127.0.0.1:8080/research/encoder/1
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tfhub.config import Settings
from tfhub.core.formats import detect_format
from tfhub.core.pack import pack_archive
from tfhub.core.progress import format_size, start_progress
from tfhub.errors import ConfigError, ServerError
from tfhub.server.names import check_name, parse_version

logger = logging.getLogger("tfhub")
_CHUNK = 1 << 20
DEFAULT_SERVER = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Target:
    """``publisher/model[/version]``.

    >>> Target.parse("research/encoder/3")
    Target(publisher='research', model='encoder', version=3)
    """

    publisher: str
    model: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.strip("/").split("/")
        if len(parts) not in (2, 3):
            raise ConfigError(
                f"{text!r} is not publisher/model or publisher/model/version (e.g. "
                "research/encoder or research/encoder/2)."
            )
        try:
            version = parse_version(parts[2]) if len(parts) == 3 else None
            return cls(check_name(parts[0], "publisher"), check_name(parts[1], "model"), version)
        except ServerError as e:
            raise ConfigError(e.message) from None


def _field(boundary: str, name: str, value: str) -> bytes:
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
    head += "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    return head.encode() + value.encode("utf-8") + b"\r\n"


class MultipartBody:
    """A streamed ``multipart/form-data`` body: text fields, then the archive file."""

    def __init__(self, fields: dict[str, str], archive: str) -> None:
        self.boundary = "tfhub-" + secrets.token_hex(16)
        self.head = b"".join(_field(self.boundary, k, v) for k, v in fields.items())
        self.head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="archive"; '
            f'filename="{os.path.basename(archive)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.archive = archive
        self.length = len(self.head) + os.path.getsize(archive) + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def chunks(self, label: str, settings: Settings) -> Iterator[bytes]:
        """The body, reporting progress: a bar on a terminal, two log lines otherwise."""
        bar = None
        if not settings.disable_progress and sys.stderr is not None and sys.stderr.isatty():
            bar = start_progress(f"upload {label}", self.length, settings)
        else:
            logger.info("Uploading %s (%s)", label, format_size(self.length))
        start, ok = time.monotonic(), False
        try:
            for piece in self._pieces():
                yield piece
                if bar is not None:
                    bar.update(len(piece))
            ok = True
        finally:
            if bar is not None:
                bar.close(ok=ok)
        took = time.monotonic() - start
        logger.info("Uploaded %s in %.1f s; the hub checks and packs it now", label, took)

    def _pieces(self) -> Iterator[bytes]:
        yield self.head
        with open(self.archive, "rb") as f:
            while piece := f.read(_CHUNK):
                yield piece
        yield self.tail


def _error(response: httpx.Response) -> ServerError:
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), str(error["code"])
    except (ValueError, KeyError, TypeError):
        message, code = f"HTTP {response.status_code}: {response.text[:300]}", "http_error"
    return ServerError(
        f"The hub refused the upload ({response.status_code}): {message}",
        status=response.status_code,
        code=code,
    )


@contextlib.contextmanager
def _archive_of(path: str) -> Iterator[str]:
    """``path`` if it is an archive file, else a temporary ``.tar.zst`` of the folder."""
    if os.path.isfile(path):
        yield path
        return
    detect_format(path)  # a folder that is not a model fails here, before any upload
    with tempfile.TemporaryDirectory(prefix="tfhub-pack-") as tmp:
        yield str(pack_archive(path, os.path.join(tmp, "model.tar.zst"), compression="zstd"))


def publish_model(
    path: str,
    target: str | Target,
    *,
    server: str = DEFAULT_SERVER,
    token: str | None,
    readme: str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Publishes the model folder (or archive file) ``path``; returns the version's JSON.

    Raises:
        ConfigError: bad target, no token. ModelFormatError: ``path`` is not a model.
        ServerError: the hub refused (its status, code and message).
        DownloadError: the hub cannot be reached.
    """
    where = target if isinstance(target, Target) else Target.parse(target)
    if not token:
        raise ConfigError("Publishing needs a token: pass --token or set TFHUB_TOKEN.")
    fields: dict[str, str] = {}
    if readme is not None:
        with open(readme, encoding="utf-8") as f:
            fields["readme"] = f.read()
    if description is not None:
        fields["description"] = description
    if tags:
        fields["tags"] = ",".join(tags)
    base = server.rstrip("/")
    url = f"{base}/api/v1/models/{where.publisher}/{where.model}/versions"
    method = "POST" if where.version is None else "PUT"
    if where.version is not None:
        url += f"/{where.version}"
    with _archive_of(path) as archive:
        body = MultipartBody(fields, archive)
        return _send(method, url, body, token, f"{where.publisher}/{where.model}", timeout)


def _send(
    method: str, url: str, body: MultipartBody, token: str, label: str, timeout: float
) -> dict[str, Any]:
    from tfhub.core.http import describe_error

    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": body.content_type,
        "Content-Length": str(body.length),
    }
    settings = Settings.from_env({k: v for k, v in os.environ.items() if k != "TFHUB_TOKEN"})
    limits = httpx.Timeout(timeout, connect=settings.connect_timeout)
    try:
        with httpx.Client(timeout=limits, trust_env=True) as client:
            response = client.request(
                method, url, content=body.chunks(label, settings), headers=headers
            )
    except httpx.HTTPError as e:
        from tfhub.errors import DownloadError

        raise DownloadError(f"Cannot reach the hub at {url}: {describe_error(e)}.") from e
    if response.status_code != 201:
        raise _error(response)
    result: dict[str, Any] = response.json()
    return result
