"""The model cache: atomic installs, a cross-process lock, a manifest and a cheap hit check.

Layout under the cache root (``TFHUB_CACHE_DIR``, else the user cache directory)::

    models/<key>/model/          the model files; ``resolve`` returns this path
    models/<key>/manifest.json   path, size and sha256 of every file, the handle, the source
    models/<key>/COMPLETE        written last; an entry without it does not exist
    staging/<key>.<pid>.<rand>/  an install in progress, renamed into models/ in one step
    partial/<key>.part           a partly downloaded archive, kept so the next try resumes
    locks/<key>.lock             held while an entry is installed or removed

Example:
    >>> import tempfile, pathlib
    >>> from tfhub.core.handle import Handle
    >>> cache = Cache(tempfile.mkdtemp())
    >>> h = Handle.parse("https://hub.example.com/m/1")
    >>> def fill(model_dir):
    ...     _ = pathlib.Path(model_dir, "saved_model.pb").write_bytes(b"x")
    ...     return InstallInfo(source=str(h))
    >>> path = cache.get_or_install(h, fill)
    >>> cache.lookup(h) == path
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import filelock
import platformdirs

from tfhub.config import Settings
from tfhub.core.handle import Handle
from tfhub.core.manifest import Manifest, ManifestEntry
from tfhub.errors import CacheError, CacheLockTimeoutError, CorruptCacheError, OfflineError

logger = logging.getLogger("tfhub")

MARKER = "COMPLETE"
MANIFEST = "manifest.json"
MODEL = "model"


@dataclass
class InstallInfo:
    """What a fill function reports about the files it put in the staging model directory.

    ``entries`` may be left empty; the cache then hashes the files itself.
    """

    source: str
    entries: list[ManifestEntry] = field(default_factory=list)
    archive_sha256: str = ""
    archive_bytes: int = 0


@dataclass(frozen=True)
class CacheEntry:
    """One entry of :meth:`Cache.entries`."""

    key: str
    path: str
    manifest: Manifest | None
    complete: bool

    @property
    def model_dir(self) -> str:
        return os.path.join(self.path, MODEL)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.manifest.entries) if self.manifest else 0


_STAGING_NAME = re.compile(r"^(?P<key>.+)\.\d+(?:\.[0-9a-f]{8})?(?:\.old|\.removed)?$")


def staging_key(name: str) -> str | None:
    """The cache key of a ``staging/`` entry name (``<key>.<pid>.<rand>[.old|.removed]``);
    keys may contain dots.

    >>> staging_key("127.0.0.1_80_m_1-ab12.4242.0a1b2c3d.old")
    '127.0.0.1_80_m_1-ab12'
    """
    match = _STAGING_NAME.match(name)
    return match.group("key") if match else None


def partial_key(name: str) -> str | None:
    """The cache key of a ``partial/`` file name (``<key>.part`` or ``<key>.part.json``)."""
    for suffix in (".part.json", ".part"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def read_manifest(entry: str) -> Manifest | None:
    """The manifest of the entry directory ``entry``, or None if missing or unreadable."""
    try:
        with open(os.path.join(entry, MANIFEST), encoding="utf-8") as f:
            return Manifest.from_json(f.read())
    except (OSError, ValueError, TypeError, KeyError):
        return None


def default_cache_root(settings: Settings | None = None) -> str:
    """``TFHUB_CACHE_DIR`` if set, else the user cache directory (never the temp directory)."""
    settings = settings or Settings.from_env()
    if settings.cache_dir:
        return os.path.abspath(os.path.expanduser(settings.cache_dir))
    return platformdirs.user_cache_dir("tfhub", appauthor=False)


class Cache:
    """A directory of installed models. Safe to share between threads and processes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self._models = os.path.join(self.root, "models")
        # key -> (marker stamp, manifest, [(absolute path, expected size or -1 for links)])
        self._memo: dict[str, tuple[tuple[int, int], Manifest, list[tuple[str, int]]]] = {}

    # -- paths ------------------------------------------------------------------------
    def entry_path(self, key: str) -> str:
        return os.path.join(self._models, key)

    def part_path(self, key: str) -> str:
        return os.path.join(self.root, "partial", key + ".part")

    def _dir(self, name: str) -> str:
        path = os.path.join(self.root, name)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise CacheError(
                f"Cannot create the cache directory {path}: {e.strerror}. Set TFHUB_CACHE_DIR "
                "to a writable directory."
            ) from e
        return path

    # -- reading ----------------------------------------------------------------------
    def lookup(self, handle: Handle) -> str | None:
        """The model directory if ``handle`` is installed and intact, else None (fast)."""
        path, _ = self.check(handle.cache_key)
        return path

    def check(self, key: str) -> tuple[str | None, list[str]]:
        """``(model_dir, [])`` for an intact entry, ``(None, problems)`` otherwise.

        An entry without its completion marker is simply absent: ``(None, [])``.
        """
        entry = self._models + os.sep + key
        try:
            st = os.stat(entry + os.sep + MARKER)
        except OSError:
            return None, []
        memo = self._memo.get(key)
        if memo is None or memo[0] != (st.st_ino, st.st_mtime_ns):
            if self._manifest(key, entry, (st.st_ino, st.st_mtime_ns)) is None:
                return None, ["manifest.json is missing or unreadable"]
            memo = self._memo[key]
        lstat = os.lstat
        try:
            for path, size in memo[2]:  # the cheap check: one lstat per file
                if lstat(path).st_size != size and size >= 0:
                    break
            else:
                return entry + os.sep + MODEL, []
        except OSError:
            pass
        problems = memo[1].quick_problems(entry + os.sep + MODEL)
        return (None, problems) if problems else (entry + os.sep + MODEL, [])

    def _manifest(self, key: str, entry: str, stamp: tuple[int, int]) -> Manifest | None:
        """The entry's manifest, memoised with the marker's stamp for the hit check."""
        memo = self._memo.get(key)
        if memo is not None and memo[0] == stamp:
            return memo[1]
        manifest = read_manifest(entry)
        if manifest is None:
            return None
        model_dir = os.path.join(entry, MODEL)
        checks = [
            (os.path.join(model_dir, *e.path.split("/")), -1 if e.link is not None else e.size)
            for e in manifest.entries
        ]
        self._memo[key] = (stamp, manifest, checks)
        return manifest

    def entries(self) -> list[CacheEntry]:
        """Every entry in the cache, complete or not, sorted by key."""
        try:
            keys = sorted(os.listdir(self._models))
        except FileNotFoundError:
            return []
        result = []
        for key in keys:
            path = os.path.join(self._models, key)
            complete = os.path.exists(os.path.join(path, MARKER))
            result.append(CacheEntry(key, path, read_manifest(path), complete))
        return result

    def find(self, handle: Handle) -> CacheEntry | None:
        """The entry for ``handle`` (intact or not), if there is one."""
        return next((e for e in self.entries() if e.key == handle.cache_key), None)

    # -- writing ----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, key: str, *, label: str, timeout: float) -> Iterator[None]:
        """Holds the entry's cross-process lock. A dead holder's lock is free at once
        (``flock`` is released by the kernel when its process dies)."""
        lock = filelock.FileLock(os.path.join(self._dir("locks"), key + ".lock"))
        deadline = time.monotonic() + timeout
        while True:
            try:
                lock.acquire(timeout=min(5.0, max(deadline - time.monotonic(), 0.0)))
                break
            except filelock.Timeout:
                if time.monotonic() >= deadline:
                    raise CacheLockTimeoutError(
                        f"Another process has been installing {label} for over {timeout:.0f} s "
                        f"(lock {lock.lock_file}). Wait for it, or raise TFHUB_LOCK_TIMEOUT."
                    ) from None
                logger.info("Waiting for another process installing %s", label)
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def try_lock(self, key: str) -> Iterator[bool]:
        """Holds the entry's lock if no one does; yields whether it was taken."""
        lock = filelock.FileLock(os.path.join(self._dir("locks"), key + ".lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def get_or_install(
        self,
        handle: Handle,
        fill: Callable[[str], InstallInfo],
        settings: Settings | None = None,
    ) -> str:
        """The cached model directory of ``handle``, installing it with ``fill`` if needed.

        ``fill(model_dir)`` writes the model into an empty staging directory. A damaged
        entry is replaced. With ``TFHUB_OFFLINE=1`` nothing is installed.

        Raises:
            OfflineError: offline and not cached.
            CorruptCacheError: offline and the cached copy is damaged.
        """
        settings = settings or Settings.from_env()
        key = handle.cache_key
        path, problems = self.check(key)
        if path is not None:
            return path
        if settings.offline:
            if problems:
                raise CorruptCacheError(
                    f"The cached copy of {handle.redacted()} is damaged ({'; '.join(problems)}) "
                    "and TFHUB_OFFLINE=1 forbids downloading it again. Go online and retry."
                )
            raise OfflineError(
                f"{handle.redacted()} is not in the cache ({self.root}) and TFHUB_OFFLINE=1 "
                "forbids downloading it. Unset TFHUB_OFFLINE or download it first."
            )
        with self.lock(key, label=handle.redacted(), timeout=settings.lock_timeout):
            path, problems = self.check(key)
            if path is not None:
                return path  # another process installed it while we waited
            if problems:
                logger.warning(
                    "Cached copy of %s is damaged (%s); downloading it again.",
                    handle.redacted(),
                    "; ".join(problems[:3]),
                )
            return self._install(handle, fill)

    def _install(self, handle: Handle, fill: Callable[[str], InstallInfo]) -> str:
        key = handle.cache_key
        self._clear_staging(key)
        staging = os.path.join(self._dir("staging"), f"{key}.{os.getpid()}.{secrets.token_hex(4)}")
        model_dir = os.path.join(staging, MODEL)
        os.makedirs(model_dir)
        try:
            info = fill(model_dir)
            manifest = Manifest(
                handle=handle.redacted(),  # no credentials on disk
                entries=info.entries or Manifest.scan(model_dir, handle="").entries,
                source=info.source,
                archive_sha256=info.archive_sha256,
                archive_bytes=info.archive_bytes,
                installed_at=time.time(),
            )
            with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as f:
                f.write(manifest.to_json())
            with open(os.path.join(staging, MARKER), "w", encoding="utf-8") as f:
                f.write(f"{manifest.installed_at}\n")
            self._swap_in(key, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._memo.pop(key, None)
        return os.path.join(self.entry_path(key), MODEL)

    def _swap_in(self, key: str, staging: str) -> None:
        os.makedirs(self._models, exist_ok=True)
        final = self.entry_path(key)
        trash = None
        if os.path.lexists(final):
            trash = f"{staging}.old"
            os.rename(final, trash)
        os.rename(staging, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def _clear_staging(self, key: str) -> None:
        """Removes leftovers of killed installs of ``key`` (call with the lock held)."""
        staging = os.path.join(self.root, "staging")
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(staging):
                if name.startswith(key + "."):
                    shutil.rmtree(os.path.join(staging, name), ignore_errors=True)

    def remove(self, handle: Handle, settings: Settings | None = None) -> bool:
        """Deletes the entry (and any partial download) of ``handle``. True if it existed."""
        settings = settings or Settings.from_env()
        key = handle.cache_key
        with self.lock(key, label=handle.redacted(), timeout=settings.lock_timeout):
            self._clear_staging(key)
            existed = self._delete_entry(key)
            for path in (self.part_path(key), self.part_path(key) + ".json"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    existed = True
        return existed

    def _delete_entry(self, key: str) -> bool:
        """Moves the entry out of ``models/`` in one step, then deletes it (call with the
        lock held). A kill half-way leaves a staging leftover, never a half entry."""
        final = self.entry_path(key)
        if not os.path.lexists(final):
            return False
        trash = os.path.join(
            self._dir("staging"), f"{key}.{os.getpid()}.{secrets.token_hex(4)}.removed"
        )
        os.rename(final, trash)
        self._memo.pop(key, None)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def invalidate(self, key: str) -> None:
        """Removes the completion marker so the next use downloads the entry again."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.entry_path(key), MARKER))
        self._memo.pop(key, None)
