"""``http(s)://`` handles: hub URLs (``?tf-hub-format=compressed``) and direct archive URLs."""

from __future__ import annotations

import httpx

from tfhub.core.handle import Handle
from tfhub.core.http import find_redirect
from tfhub.errors import DownloadError, HandleError, OfflineError
from tfhub.resolvers.base import Context
from tfhub.resolvers.install import install_http_archive


class HttpResolver:
    """Downloads and caches the archive of a hub URL or an archive URL.

    With ``TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`` a hub URL is asked for
    ``tf-hub-format=uncompressed``; the server's 303 names a storage location that is read in
    place, without copying (and nothing is cached).
    """

    def resolve(self, handle: Handle, context: Context) -> str:
        if context.settings.load_format == "UNCOMPRESSED" and not handle.is_archive_url:
            return self._in_place(handle, context)
        cached = context.cache.lookup(handle)
        if cached is not None:
            return cached
        if handle.is_archive_url:
            return install_http_archive(handle, context, archive_url(handle))
        url = handle.with_format("compressed")
        prefer_zstd(context.http(), url)
        return install_http_archive(handle, context, url)

    def _in_place(self, handle: Handle, context: Context) -> str:
        if context.settings.offline:
            raise OfflineError(
                f"TFHUB_OFFLINE=1 and TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED: {handle.redacted()} "
                "can only be read from its storage location over the network. Unset one of them."
            )
        location = find_redirect(
            context.http(),
            handle.with_format("uncompressed"),
            label=handle.redacted(),
            settings=context.settings,
        )
        try:
            target = Handle.parse(location)
        except HandleError as e:
            raise DownloadError(
                f"{handle.redacted()} points to an unusable storage location: {e}"
            ) from e
        if target.scheme in ("http", "https"):
            raise DownloadError(
                f"{handle.redacted()} points to {target.redacted()} for uncompressed reading, "
                "but an HTTP location cannot be read in place. Unset TFHUB_MODEL_LOAD_FORMAT."
            )
        return context.resolve(target)


HUB_ACCEPT = "application/zstd, application/gzip;q=0.9, application/x-tar;q=0.8, */*;q=0.5"
"""What tfhub asks a hub URL for: a tfhub hub then sends the ``.tar.zst`` of the model (several
times faster to unpack); other servers ignore it and send gzip, recognised by its bytes."""


def prefer_zstd(client: httpx.Client, url: str) -> None:
    """Makes ``client`` send :data:`HUB_ACCEPT` with requests for ``url`` (any query), unless
    the caller chose an ``Accept`` header itself."""
    target = httpx.URL(url)

    def ask_for_zstd(request: httpx.Request) -> None:
        same = (request.url.host, request.url.port, request.url.path)
        if same == (target.host, target.port, target.path) and request.headers.get(
            "accept", "*/*"
        ) in ("*/*", HUB_ACCEPT):
            request.headers["Accept"] = HUB_ACCEPT

    hooks = client.event_hooks
    client.event_hooks = {**hooks, "request": [*hooks.get("request", []), ask_for_zstd]}


def archive_url(handle: Handle) -> str:
    """The URL of a direct archive handle exactly as the user wrote it (signed URLs break
    when their query is re-encoded), falling back to the normalised location."""
    original = handle.original.strip().split("#", 1)[0]
    try:
        same = Handle.parse(original).location == handle.location
    except HandleError:
        same = False
    return original if same else handle.location
