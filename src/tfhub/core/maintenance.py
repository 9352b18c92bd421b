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

import filelock

from tfhub.core.cache import Cache, CacheEntry


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


def _size(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total if os.path.isdir(path) else (os.path.getsize(path) if os.path.exists(path) else 0)


def _idle(cache: Cache, key: str) -> filelock.BaseFileLock | None:
    """The key's lock, taken, if no process holds it; else None."""
    os.makedirs(os.path.join(cache.root, "locks"), exist_ok=True)
    lock = filelock.FileLock(os.path.join(cache.root, "locks", key + ".lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return None
    return lock


def prune(
    cache: Cache, *, older_than_days: float | None = None, dry_run: bool = False
) -> PruneReport:
    """Removes what no one can use: damaged or incomplete entries, leftovers of killed
    installs, partial downloads, and (with ``older_than_days``) entries installed earlier.
    Entries being installed by a running process are left alone."""
    report = PruneReport()
    cutoff = time.time() - older_than_days * 86400 if older_than_days is not None else None
    doomed: list[tuple[str, str]] = []  # (key, path)
    for entry in cache.entries():
        path, _ = cache.check(entry.key)
        old = (
            cutoff is not None
            and entry.manifest is not None
            and entry.manifest.installed_at < cutoff
        )
        if path is None or old:
            doomed.append((entry.key, entry.path))
    for folder, suffixes in (("staging", None), ("partial", (".part", ".part.json"))):
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(os.path.join(cache.root, folder)):
                key = name.split(".", 1)[0] if suffixes is None else name
                for suffix in suffixes or ():
                    key = key.removesuffix(suffix)
                doomed.append((key, os.path.join(cache.root, folder, name)))
    for key, path in doomed:
        lock = _idle(cache, key)
        if lock is None:
            report.skipped_busy.append(path)
            continue
        try:
            report.freed_bytes += _size(path)
            report.removed.append(path)
            if not dry_run:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        finally:
            lock.release()
    return report
