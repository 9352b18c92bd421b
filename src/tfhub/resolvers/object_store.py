"""``gs://`` and ``s3://`` handles through fsspec (optional extras ``tfhub[gcs]``, ``tfhub[s3]``).

A directory is read in place (the URL is returned unchanged); an archive object is streamed
through the cache like any download.
"""

from __future__ import annotations

from typing import IO, Any

from tfhub.core.handle import Handle
from tfhub.errors import DownloadError, MissingDependencyError, ModelNotFoundError, OfflineError
from tfhub.resolvers.base import Context
from tfhub.resolvers.install import install_archive

_PACKAGES = {"gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"), "s3": ("s3fs", "s3")}


def filesystem(scheme: str) -> Any:
    """The fsspec file system for ``scheme``, or an error naming what to install."""
    package, extra = _PACKAGES.get(scheme, (scheme + "fs", scheme))
    try:
        import fsspec

        return fsspec.filesystem(scheme)
    except ImportError as e:
        raise MissingDependencyError(
            f"{scheme}:// handles need the {package} package: pip install 'tfhub[{extra}]' "
            f"(or pip install fsspec {package}). ({e})"
        ) from e


class ObjectStoreResolver:
    """Resolves object-storage URLs with fsspec."""

    def resolve(self, handle: Handle, context: Context) -> str:
        if context.settings.offline:
            cached = context.cache.lookup(handle)
            if cached is not None:
                return cached
            raise OfflineError(
                f"{handle.redacted()} is in object storage and not cached; TFHUB_OFFLINE=1 "
                "forbids reading it. Unset TFHUB_OFFLINE."
            )
        cached = context.cache.lookup(handle)
        if cached is not None:
            return cached
        fs = filesystem(handle.scheme)
        path = handle.location.split("://", 1)[1]
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise ModelNotFoundError(f"No model at {handle.redacted()}.") from None
        except Exception as e:
            raise DownloadError(f"Cannot read {handle.redacted()}: {e}.") from e
        if info.get("type") == "directory":
            return handle.location

        def open_archive() -> tuple[IO[bytes], str | None]:
            content_type = info.get("ContentType") or info.get("contentType")
            return fs.open(path, "rb", block_size=8 << 20), content_type

        return install_archive(handle, context, open_archive, source=handle.location)
