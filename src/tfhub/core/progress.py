"""Progress reporting for long downloads: a tqdm bar on a terminal, log lines otherwise;
and :func:`format_size`, how tfhub writes byte counts.

Example:
    >>> from tfhub.config import Settings
    >>> p = start_progress("demo", total=10, settings=Settings(disable_progress=True))
    >>> p.update(10); p.close(ok=True)
    >>> format_size(2_500_000)
    '2.5 MB'
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Protocol

from tfhub.config import Settings

logger = logging.getLogger("tfhub")

_UNITS = (("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12))


def format_size(size: float) -> str:
    """A byte count for people: bytes below 1 KB, else KB, MB, GB or TB with one decimal
    (decimal units, 1 KB = 1000 B).

    >>> format_size(0), format_size(999), format_size(1_234), format_size(999_999)
    ('0 B', '999 B', '1.2 KB', '1.0 MB')
    >>> format_size(1_234_567), format_size(5e9)
    ('1.2 MB', '5.0 GB')
    """
    if size < 1000:
        return f"{size:.0f} B"
    for unit, scale in _UNITS:
        if round(size / scale, 1) < 1000 or unit == _UNITS[-1][0]:
            break
    return f"{size / scale:.1f} {unit}"


class Progress(Protocol):
    def update(self, n: int) -> None: ...
    def close(self, ok: bool = True) -> None:
        """Ends the report; ``ok=False`` when the download failed or starts over."""
        ...


class _LogProgress:
    """Logs the start, a line every ``every`` seconds, and the end, at INFO level."""

    def __init__(self, label: str, total: int | None, every: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = 0
        self.start = self.last = time.monotonic()
        size = f" ({format_size(total)})" if total else ""
        logger.info("Downloading %s%s", label, size)

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            of = f" of {format_size(self.total)}" if self.total else ""
            rate = format_size(self.done / max(now - self.start, 1e-9))
            logger.info("%s: %s%s (%s/s)", self.label, format_size(self.done), of, rate)

    def close(self, ok: bool = True) -> None:
        took = time.monotonic() - self.start
        if ok:
            logger.info("Downloaded %s: %s in %.1f s", self.label, format_size(self.done), took)
        else:
            logger.info("Stopped downloading %s after %s", self.label, format_size(self.done))


class _TqdmProgress:
    def __init__(self, label: str, total: int | None) -> None:
        from tqdm.auto import tqdm

        sized = min(_terminal_size()) > 0  # one that reports no size would get no bar
        self.bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=sized,
            ncols=None if sized else 100,
            nrows=None if sized else 24,
        )

    def update(self, n: int) -> None:
        self.bar.update(n)

    def close(self, ok: bool = True) -> None:
        self.bar.close()


def _terminal_size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return size.columns, size.lines


def start_progress(label: str, total: int | None, settings: Settings) -> Progress:
    """A tqdm bar (bytes, total, rate) on an interactive terminal, log lines otherwise."""
    if not settings.disable_progress and sys.stderr is not None and sys.stderr.isatty():
        return _TqdmProgress(label, total)
    return _LogProgress(label, total)
