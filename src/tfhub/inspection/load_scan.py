"""The load-time scan: before ``tfhub.load`` / ``KerasLayer`` load a model that came from a
remote handle (``http(s)://``, ``gs://``, ``s3://``), the risky-op scan
(:mod:`tfhub.inspection.scan`) runs on it. ``TFHUB_SCAN`` decides what happens:

* ``warn`` (default): findings are logged (logger ``tfhub``: high and medium as warnings,
  low ones at INFO level) and the model loads;
* ``block``: a model with high-severity findings is refused with
  :class:`~tfhub.UnsafeModelError` listing them; other findings are logged;
* ``off``: no scan.

Models from local paths (directories, archives the user points at) are not scanned. The result
of a cached model is kept beside its manifest, in ``models/<key>/scan.json`` (never inside
``model/``), written atomically and keyed by the scan rules version and the size and time of
``saved_model.pb``: a later load reads that small file, and new rules rescan.

Example:
    >>> import tempfile
    >>> check_before_load(tempfile.gettempdir(), tempfile.gettempdir()) is None  # local
    True
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence

from tfhub.config import SCAN, Settings
from tfhub.core.cache import MANIFEST, MARKER, MODEL
from tfhub.core.formats import SAVED_MODEL_PB
from tfhub.core.handle import Handle
from tfhub.errors import ModelFormatError, UnsafeModelError
from tfhub.inspection.scan import RULES_VERSION, Finding, ScanResult, scan_model, scan_saved_model

__all__ = ["SCAN_JSON", "check_before_load", "scan_entry"]

SCAN_JSON = "scan.json"
_SHOWN = 10  # findings listed in a message
logger = logging.getLogger("tfhub")


def check_before_load(
    handle: str | os.PathLike[str] | Handle,
    path: str,
    *,
    settings: Settings | None = None,
    read: Callable[[str], bytes] | None = None,
) -> ScanResult | None:
    """Scans the model ``handle`` resolved to (``path``) if the handle is remote and
    ``TFHUB_SCAN`` is not ``off``; logs or refuses what it finds.

    Args:
        handle: what the user asked to load.
        path: where :func:`tfhub.resolve` put it (a cache entry's ``model/`` directory, or a
            storage URL read in place).
        settings: the settings to use (default: read now).
        read: reads a file of a storage URL (``path`` containing ``://``); without it such
            models are not scanned.

    Returns:
        The scan result, or None when nothing was scanned.

    Raises:
        UnsafeModelError: ``TFHUB_SCAN=block`` and the scan found high-severity operations.
        ModelFormatError: ``TFHUB_SCAN=block`` and ``saved_model.pb`` cannot be scanned.
    """
    settings = settings or Settings.from_env()
    if settings.scan == "off":
        return None
    parsed = handle if isinstance(handle, Handle) else Handle.parse(handle)
    if not parsed.is_remote:
        return None
    label = parsed.redacted()
    try:
        result = _scan(path, read)
    except (ModelFormatError, OSError) as e:
        if settings.scan == "block":
            raise ModelFormatError(
                f"{label} cannot be scanned for risky operations ({e}), and {SCAN}=block "
                f"refuses models it cannot scan. Set {SCAN}=warn to load it anyway."
            ) from e
        logger.warning("Could not scan %s for risky operations: %s", label, e)
        return None
    if result is not None:
        _act(result, label, settings.scan)
    return result


def _scan(path: str, read: Callable[[str], bytes] | None) -> ScanResult | None:
    if "://" in path:
        if read is None:
            return None
        return scan_saved_model(read(path.rstrip("/") + "/" + SAVED_MODEL_PB), path)
    entry = _cache_entry(path)
    return scan_model(path) if entry is None else scan_entry(entry)


def _cache_entry(path: str) -> str | None:
    """The cache entry directory (``models/<key>``) holding the model ``path``, if any."""
    parent, name = os.path.split(os.path.normpath(path))
    if name != MODEL:
        return None
    if os.path.isfile(os.path.join(parent, MARKER)) and os.path.isfile(
        os.path.join(parent, MANIFEST)
    ):
        return parent
    return None


def scan_entry(entry: str) -> ScanResult:
    """The scan result of the cache entry ``entry``: read from its ``scan.json`` if that is
    current, else computed and stored there.

    Raises:
        ModelFormatError: the model's ``saved_model.pb`` is missing or damaged.
    """
    model = os.path.join(entry, MODEL)
    try:
        st = os.stat(os.path.join(model, SAVED_MODEL_PB))
    except OSError as e:
        raise ModelFormatError(f"Cannot scan {model}: {SAVED_MODEL_PB}: {e.strerror}.") from e
    key = [RULES_VERSION, st.st_size, st.st_mtime_ns]
    cached = _read_cached(entry, key)
    if cached is not None:
        return cached
    result = scan_model(model)
    _write_cached(entry, key, result)
    return result


def _read_cached(entry: str, key: Sequence[int]) -> ScanResult | None:
    try:
        with open(os.path.join(entry, SCAN_JSON), encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("key") != list(key):
            return None
        return ScanResult.from_dict(doc["result"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, damaged or from other rules: scan again


def _write_cached(entry: str, key: Sequence[int], result: ScanResult) -> None:
    """Writes ``scan.json`` atomically (a temporary file renamed over it)."""
    doc = {"key": list(key), "rules_version": RULES_VERSION, "result": result.to_dict()}
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".scan.", suffix=".tmp", dir=entry)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(entry, SCAN_JSON))
    except OSError as e:  # a read-only cache still loads; the scan runs again next time
        logger.debug("Could not store the scan result in %s: %s", entry, e)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _act(result: ScanResult, label: str, mode: str) -> None:
    high = result.high()
    if mode == "block" and high:
        raise UnsafeModelError(
            f"Refusing to load {label}: the risky-op scan found {_count(high, 'high-severity')}"
            f":\n{_lines(high)}\nIf you trust this model, set {SCAN}=warn (findings are only "
            f"logged) or {SCAN}=off, and load it again."
        )
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    if serious:
        logger.warning(
            "Risky operations in %s (%s=block refuses models with high-severity ones):\n%s",
            label, SCAN, _lines(serious),
        )  # fmt: skip
    elif result.findings:
        logger.info("Low-risk operations in %s:\n%s", label, _lines(result.findings))


def _count(findings: Sequence[Finding], what: str) -> str:
    return f"{len(findings)} {what} operation{'s' if len(findings) != 1 else ''}"


def _lines(findings: Sequence[Finding]) -> str:
    lines = [
        f"  {f.severity.upper()} {_printable(f.op)} at {_printable(f.location)}: "
        f"{_printable(f.reason)}"
        for f in findings[:_SHOWN]
    ]
    if len(findings) > _SHOWN:
        lines.append(f"  ... and {len(findings) - _SHOWN} more (tfhub inspect lists them all)")
    return "\n".join(lines)


def _printable(value: str) -> str:
    """``value`` with control characters escaped: names come from an untrusted model and
    must not forge log lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
