"""Cache upkeep behind ``tfhub cache``: full verification and pruning.

Example:
    >>> import tempfile
    >>> from tfhub.core.cache import Cache
    >>> prune(Cache(tempfile.mkdtemp())).removed
    []
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field

from tfhub.core.cache import Cache, CacheEntry, partial_key, read_manifest, staging_key


@dataclass
class VerifyResult:
    entry: CacheEntry
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(cache: Cache, entries: list[CacheEntry] | None = None) -> list[VerifyResult]:
    """Checks the sha256 of every file of each entry. A damaged entry loses its completion
    marker, so the next ``resolve`` downloads it again."""
    results = []
    for entry in cache.entries() if entries is None else entries:
        if not entry.complete:
            problems = ["incomplete (no completion marker)"]
        elif entry.manifest is None:
            problems = ["manifest.json is missing or unreadable"]
        else:
            problems = entry.manifest.full_problems(entry.model_dir)
        if problems and entry.complete:
            cache.invalidate(entry.key)
        results.append(VerifyResult(entry, problems))
    return results


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    skipped_busy: list[str] = field(default_factory=list)


def disk_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``path`` (links counted as themselves), or of ``path``
    itself if it is a file; 0 if it does not exist."""
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size if os.path.lexists(path) else 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _delete(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


STALE_TEMP_SECONDS = 3600
"""A ``.*.tmp`` file in an entry folder this old was left by a killed writer (such as
the load-time scan storing ``scan.json``); a live writer renames its file within seconds."""


def _leftovers(cache: Cache, entries: list[CacheEntry]) -> list[tuple[str, str]]:
    """``(key, path)`` of every staging leftover, partial download and stale temporary
    file in the folders of ``entries``."""
    found = []
    for folder, key_of in (("staging", staging_key), ("partial", partial_key)):
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(os.path.join(cache.root, folder))):
                key = key_of(name)
                if key is not None:
                    found.append((key, os.path.join(cache.root, folder, name)))
    return found + _stale_temp_files(entries)


def _stale_temp_files(entries: list[CacheEntry]) -> list[tuple[str, str]]:
    found = []
    cutoff = time.time() - STALE_TEMP_SECONDS
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            for name in sorted(os.listdir(entry.path)):
                path = os.path.join(entry.path, name)
                if name.startswith(".") and name.endswith(".tmp") and _older(path, cutoff):
                    found.append((entry.key, path))
    return found


def _older(path: str, cutoff: float) -> bool:
    try:
        return os.lstat(path).st_mtime < cutoff
    except OSError:
        return False


def _unusable(cache: Cache, entry: CacheEntry, cutoff: float | None) -> bool:
    """Damaged, incomplete, or (with ``cutoff``) installed before it."""
    path, _ = cache.check(entry.key)
    manifest = read_manifest(entry.path)
    old = cutoff is not None and manifest is not None and manifest.installed_at < cutoff
    return path is None or old


def prune(
    cache: Cache, *, older_than_days: float | None = None, dry_run: bool = False
) -> PruneReport:
    """Removes what no one can use: damaged or incomplete entries, leftovers of killed
    installs and writers, partial downloads, and (with ``older_than_days``) entries
    installed earlier. Anything whose entry is locked by a running process is left alone;
    entries are judged again under their lock, so one repaired meanwhile stays."""
    report = PruneReport()
    cutoff = time.time() - older_than_days * 86400 if older_than_days is not None else None
    entries = {e.key: e for e in cache.entries()}
    doomed = {e.key: e.path for e in entries.values() if _unusable(cache, e, cutoff)}
    kept = [e for e in entries.values() if e.key not in doomed]  # removed whole otherwise
    for key, path in [*doomed.items(), *_leftovers(cache, kept)]:
        with cache.try_lock(key) as idle:
            if not idle:
                report.skipped_busy.append(path)
                continue
            entry = entries.get(key)
            if entry is not None and path == entry.path and not _unusable(cache, entry, cutoff):
                continue  # repaired since it was listed
            with contextlib.suppress(OSError):
                report.freed_bytes += disk_size(path)
            report.removed.append(path)
            if not dry_run:
                _delete(path)
    return report
