"""Progress reporting for long downloads: a tqdm bar on a terminal, log lines otherwise.

Example:
    >>> from tfhub.config import Settings
    >>> p = start_progress("demo", total=10, settings=Settings(disable_progress=True))
    >>> p.update(10); p.close(ok=True)
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Protocol

from tfhub.config import Settings

logger = logging.getLogger("tfhub")


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
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        logger.info("Downloading %s%s", label, size)

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            of = f" of {self.total / 1e6:.1f}" if self.total else ""
            rate = self.done / max(now - self.start, 1e-9) / 1e6
            logger.info("%s: %.1f%s MB (%.1f MB/s)", self.label, self.done / 1e6, of, rate)

    def close(self, ok: bool = True) -> None:
        took = time.monotonic() - self.start
        if ok:
            logger.info("Downloaded %s: %.1f MB in %.1f s", self.label, self.done / 1e6, took)
        else:
            logger.info("Stopped downloading %s after %.1f MB", self.label, self.done / 1e6)


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
