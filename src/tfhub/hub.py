"""The :class:`Hub`: resolvers plus a cache, and the module-level ``resolve``.

Example:
    >>> import tempfile
    >>> hub = Hub(cache_dir=tempfile.mkdtemp())
    >>> hub.resolve(tempfile.gettempdir()) == tempfile.gettempdir()
    True
"""

from __future__ import annotations

import functools
import os

from tfhub.config import CACHE_DIR, MODEL_LOAD_FORMAT, Settings
from tfhub.core.cache import Cache, default_cache_root
from tfhub.core.conventions import ConventionReport
from tfhub.core.conventions import check_reusable_saved_model as check_conventions
from tfhub.core.handle import Handle
from tfhub.resolvers.base import Context, ResolverRegistry


@functools.lru_cache(maxsize=4096)
def _parse_str(handle: str) -> Handle:
    return Handle.parse(handle)


def parse_handle(handle: str | os.PathLike[str] | Handle) -> Handle:
    """A :class:`Handle` for ``handle`` (parsed strings are memoised: handles are values)."""
    if isinstance(handle, Handle):
        return handle
    if isinstance(handle, str) and not handle.startswith(("/", ".", "~")) and "://" in handle:
        return _parse_str(handle)
    return Handle.parse(handle)


class Hub:
    """Resolves handles with a table of resolvers and a cache.

    Args:
        cache_dir: the cache root; default ``TFHUB_CACHE_DIR`` or the user cache directory,
            read at every call.
        resolvers: a registry to use instead of the default one.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        resolvers: ResolverRegistry | None = None,
    ) -> None:
        self._cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.resolvers = resolvers or ResolverRegistry()
        self._caches: dict[str, Cache] = {}

    def cache(self, settings: Settings | None = None) -> Cache:
        """The :class:`Cache` in use now."""
        root = self._cache_dir or default_cache_root(settings or Settings.from_env())
        cache = self._caches.get(root)
        if cache is None:
            cache = self._caches[root] = Cache(root)
        return cache

    def resolve(self, handle: str | os.PathLike[str] | Handle) -> str:
        """Turns ``handle`` into a model directory, downloading and caching it if needed.

        Args:
            handle: a local path, ``file://`` URL, ``http(s)://`` hub or archive URL,
                or ``gs://`` / ``s3://`` URL.

        Returns:
            A local directory, or for storage read in place the storage URL.

        Raises:
            HandleError, ModelNotFoundError, DownloadError, UnsafeArchiveError,
            OfflineError, CacheError: see :mod:`tfhub.errors`.
        """
        parsed = parse_handle(handle)
        if parsed.is_remote:
            cached = self._cached(parsed)
            if cached is not None:
                return cached
        settings = Settings.from_env()
        context = Context(settings=settings, cache=self.cache(settings), registry=self.resolvers)
        try:
            return context.resolve(parsed)
        finally:
            context.close()

    def _cached(self, handle: Handle) -> str | None:
        """The fast path: an intact cache entry, found with two environment reads and one
        ``stat`` per file. Everything else goes through the resolvers."""
        fmt = os.environ.get(MODEL_LOAD_FORMAT, "")
        in_place = fmt.strip().upper() == "UNCOMPRESSED" and handle.scheme in ("http", "https")
        if in_place and not handle.is_archive_url:
            return None  # read in place, never cached
        root = self._cache_dir or os.environ.get(CACHE_DIR)
        cache = self._caches.get(root or "")
        if cache is None:
            cache = self.cache()
            self._caches[root or ""] = cache
        return cache.check(handle.cache_key)[0]


@functools.cache
def default_hub() -> Hub:
    """The hub behind :func:`tfhub.resolve` (created on first use, not at import)."""
    return Hub()


def check_reusable_saved_model(handle: str | os.PathLike[str]) -> ConventionReport:
    """Resolves ``handle`` and checks it against the Reusable SavedModel conventions
    (TensorFlow is not imported). See :mod:`tfhub.core.conventions`.

    Example:
        >>> report = tfhub.check_reusable_saved_model("/models/encoder")  # doctest: +SKIP
        >>> print(report)  # doctest: +SKIP
    """
    return check_conventions(resolve(handle))


def resolve(handle: str | os.PathLike[str]) -> str:
    """Resolves ``handle`` to a local model directory (see :meth:`Hub.resolve`).

    Example:
        >>> import tfhub, tempfile
        >>> d = tempfile.mkdtemp()
        >>> tfhub.resolve(d) == d
        True
    """
    return default_hub().resolve(handle)
