"""Installing an archive into the cache: shared by every resolver that meets one."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from typing import IO

from tfhub.core.archive import Limits, extract_archive
from tfhub.core.cache import InstallInfo
from tfhub.core.handle import Handle, redact_url
from tfhub.core.http import ArchiveDownload, RestartNeededError
from tfhub.errors import IntegrityError, NotAnArchiveError, UnsafeArchiveError
from tfhub.resolvers.base import Context

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
                content_type=content_type,
            )
        return InstallInfo(source=redact_url(source), entries=entries)

    return context.cache.get_or_install(handle, fill, context.settings)


def install_http_archive(handle: Handle, context: Context, url: str) -> str:
    """Downloads ``url`` (resumably, verified) and installs it as ``handle``'s model."""
    label = handle.redacted()
    part = context.cache.part_path(handle.cache_key)

    def fill(model_dir: str) -> InstallInfo:
        os.makedirs(os.path.dirname(part), exist_ok=True)
        for attempt in range(context.settings.retries + 1):
            download = ArchiveDownload(
                context.http(), url, part, label=label, settings=context.settings
            )
            try:
                entries = extract_archive(
                    download,  # type: ignore[arg-type]
                    model_dir,
                    label=label,
                    limits=_limits(context),
                    content_type=download.content_type,
                )
            except RestartNeededError:
                download.close()
                if attempt == context.settings.retries:
                    raise
                _empty(model_dir)
                continue
            except (NotAnArchiveError, UnsafeArchiveError, IntegrityError):
                download.discard()  # a bad archive is not worth resuming
                raise
            except BaseException:
                download.close()  # keep the .part: the next try resumes from it
                raise
            info = InstallInfo(
                source=redact_url(url),
                entries=entries,
                archive_sha256=download.sha256,
                archive_bytes=download.delivered,
            )
            download.discard()
            return info
        raise AssertionError("unreachable")

    return context.cache.get_or_install(handle, fill, context.settings)


def _empty(directory: str) -> None:
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
