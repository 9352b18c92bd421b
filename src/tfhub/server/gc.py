"""Removing what failed publishes left behind: storage prefixes no version points to, and
old scratch folders.

A publish stages its objects under a fresh ``objects/<UTC time>-<random>`` prefix before
the database transaction that makes the version visible. A crash or a refused commit
leaves that prefix unreferenced. Cleanup deletes unreferenced prefixes older than a grace
period (default one day), so uploads still in progress in another server process are
left alone. ``tfhub serve`` runs it at startup; ``tfhub server gc`` runs it on demand.

Example (``hub`` a :class:`~tfhub.server.context.HubContext`)::

    report = collect_garbage(hub, grace_seconds=0, dry_run=True)
    print(report.removed)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from sqlalchemy import select

from tfhub.server.context import HubContext
from tfhub.server.db import Version
from tfhub.server.pipeline import OBJECTS, STAMP

logger = logging.getLogger("tfhub.server")
SCRATCH_PREFIXES = ("tfhub-upload-", "tfhub-publish-")


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)
    """Storage prefixes (and scratch folders) removed, or that would be with ``dry_run``."""
    kept_young: list[str] = field(default_factory=list)
    """Unreferenced prefixes inside the grace period (maybe uploads in progress)."""
    unknown: list[str] = field(default_factory=list)
    """Names under ``objects/`` that tfhub did not create; left alone."""
    referenced: int = 0


def stamp_of(name: str) -> dt.datetime | None:
    """The creation time written in a prefix name, or None if it is not one of ours.

    >>> stamp_of("20260520T101500Z-0123abcd")
    datetime.datetime(2026, 5, 20, 10, 15, tzinfo=datetime.timezone.utc)
    """
    try:
        return dt.datetime.strptime(name.split("-", 1)[0], STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def collect_garbage(
    hub: HubContext,
    *,
    grace_seconds: float | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> GcReport:
    """Deletes unreferenced storage prefixes and scratch folders older than the grace."""
    grace = dt.timedelta(
        seconds=hub.settings.gc_grace_seconds if grace_seconds is None else grace_seconds
    )
    now = now or dt.datetime.now(dt.UTC)
    report = GcReport()
    names = hub.storage.list_prefixes(OBJECTS)  # before reading references: see module doc
    with hub.db.session() as session:
        referenced = set(session.scalars(select(Version.storage_prefix)))
    report.referenced = len(referenced)
    for name in names:
        prefix = f"{OBJECTS}/{name}"
        stamp = stamp_of(name)
        if prefix in referenced:
            continue
        if stamp is None:
            report.unknown.append(prefix)
        elif now - stamp < grace:
            report.kept_young.append(prefix)
        else:
            report.removed.append(prefix)
            if not dry_run:
                hub.storage.delete_prefix(prefix)
    _scratch(hub.settings.work_dir, now - grace, report, dry_run)
    if report.removed:
        logger.info("cleanup: %s %d leftovers", "would remove" if dry_run else "removed",
                    len(report.removed))  # fmt: skip
    return report


def _scratch(work_dir: str | None, before: dt.datetime, report: GcReport, dry_run: bool) -> None:
    root = work_dir or tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        path = os.path.join(root, name)
        if not name.startswith(SCRATCH_PREFIXES) or os.path.islink(path):
            continue
        try:
            modified = dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.UTC)
        except OSError:
            continue
        if modified < before:
            report.removed.append(path)
            if not dry_run:
                shutil.rmtree(path, ignore_errors=True)
