"""Installing an archive into the cache: shared by every resolver that meets one."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from typing import IO

from tfhub.core.archive import Limits, extract_archive
from tfhub.core.cache import InstallInfo
from tfhub.core.download import ArchiveDownload, RestartNeededError
from tfhub.core.handle import Handle, redact_url
from tfhub.core.manifest import ManifestEntry
from tfhub.errors import DownloadError, IntegrityError, NotAnArchiveError, UnsafeArchiveError
from tfhub.resolvers.base import Context

logger = logging.getLogger("tfhub")

OpenStream = Callable[[], tuple[IO[bytes], str | None]]


def _limits(context: Context) -> Limits:
    s = context.settings
    return Limits(max_bytes=s.max_archive_bytes, max_members=s.max_archive_members)


def install_archive(
    handle: Handle, context: Context, open_stream: OpenStream, *, source: str
) -> str:
    """Installs the archive that ``open_stream()`` returns (with its content type)."""

    def fill(model_dir: str) -> InstallInfo:
        stream, content_type = open_stream()
        with stream:
            entries = extract_archive(
                stream,
                model_dir,
                label=handle.redacted(),
                limits=_limits(context),
                content_type=media_type(content_type),
            )
        return InstallInfo(source=redact_url(source), entries=entries)

    return context.cache.get_or_install(handle, fill, context.settings)


def install_http_archive(handle: Handle, context: Context, url: str) -> str:
    """Downloads ``url`` (resumably, verified) and installs it as ``handle``'s model."""
    part = context.cache.part_path(handle.cache_key)

    def fill(model_dir: str) -> InstallInfo:
        os.makedirs(os.path.dirname(part), exist_ok=True)
        label = handle.redacted()
        download = ArchiveDownload(
            context.http(), url, part, label=label, settings=context.settings
        )
        try:
            download.start()
            entries = _extract(download, model_dir, label, context)
        except (NotAnArchiveError, UnsafeArchiveError, IntegrityError):
            download.discard()  # a bad archive is not worth resuming
            raise
        except BaseException:
            download.close()  # keep the .part: the next try resumes from it
            raise
        download.discard()  # installed: the .part has served its purpose
        return InstallInfo(
            source=redact_url(url),
            entries=entries,
            archive_sha256=download.sha256,
            archive_bytes=download.delivered,
        )

    return context.cache.get_or_install(handle, fill, context.settings)


def _extract(
    download: ArchiveDownload, model_dir: str, label: str, context: Context
) -> list[ManifestEntry]:
    """Extracts ``download``, starting over when it rewinds (the server could not resume)."""
    for _ in range(context.settings.retries + 1):
        try:
            return extract_archive(
                download,  # type: ignore[arg-type]
                model_dir,
                label=label,
                limits=_limits(context),
                content_type=media_type(download.content_type),
            )
        except RestartNeededError:
            logger.info("%s: the server cannot resume; extracting from the start", label)
            _empty(model_dir)
    raise DownloadError(
        f"Downloading {label} had to start over too many times. Run the same call again."
    )


def media_type(content_type: str | None) -> str | None:
    """``"text/html; charset=utf-8"`` -> ``"text/html"``.

    >>> media_type("Text/HTML; charset=utf-8"), media_type(None)
    ('text/html', None)
    """
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _empty(directory: str) -> None:
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
