"""The inspection step of publishing: what kind of model a folder holds, and its report.

The format comes from :func:`tfhub.core.formats.detect_format` (a folder that is not a
model is refused here). The full report (signatures, variables, risky ops, compatibility
table) comes from :func:`tfhub.inspection.inspect_path` when that package is installed;
otherwise a basic report of graph variants and signature names is stored.

Example:
    >>> import tempfile
    >>> try:
    ...     inspect_model(tempfile.mkdtemp())
    ... except ModelFormatError as e:
    ...     print(str(e).split(":")[0])
    Not a model
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from tfhub.core.formats import ModelFormat, detect_format
from tfhub.errors import ModelFormatError

logger = logging.getLogger("tfhub.server")

BASIC_SCHEMA = "tfhub.server.basic/1"
INSPECT_SCHEMA = "tfhub.inspect/1"


@dataclass(frozen=True)
class Inspected:
    """The model's format kind (``tf2-saved-model``, ...) and its JSON-able report."""

    format: str
    report: dict[str, Any]


def basic_report(found: ModelFormat) -> dict[str, Any]:
    """Graph variants (tag sets) and their signature names, read without TensorFlow."""
    return {
        "schema": BASIC_SCHEMA,
        "format": found.kind,
        "graph_variants": [
            {"tags": sorted(m.tags), "signatures": list(m.signatures)} for m in found.meta_graphs
        ],
    }


def full_report(path: str) -> dict[str, Any] | None:
    """``tfhub.inspection.inspect_path(path).to_dict()``, or None if it is not installed."""
    try:
        inspection = importlib.import_module("tfhub.inspection")
    except ModuleNotFoundError as e:
        if e.name not in ("tfhub.inspection", "tfhub"):
            raise
        return None
    inspect_path = getattr(inspection, "inspect_path", None)
    if inspect_path is None:  # a partial install
        return None
    report: dict[str, Any] = inspect_path(path).to_dict()
    report["path"] = ""  # a scratch folder of the server: meaningless, and not public
    return report


def for_handle(report: dict[str, Any], handle: str) -> dict[str, Any]:
    """``report`` with its compatibility table's calls naming ``handle`` (the stored report
    names no usable location); unchanged if it is not a ``tfhub.inspect/1`` report or the
    inspector cannot rebuild it."""
    if report.get("schema") != INSPECT_SCHEMA:
        return report
    try:
        inspection = importlib.import_module("tfhub.inspection")
        rebuilt = inspection.InspectReport.from_dict(report)
        result: dict[str, Any] = inspection.with_compatibility(rebuilt, handle).to_dict()
    except (ImportError, AttributeError, ValueError, KeyError, TypeError):
        logger.debug("cannot rebuild the compatibility table for %s", handle, exc_info=True)
        return report
    return result


def inspect_model(path: str) -> Inspected:
    """Checks that ``path`` holds a model and inspects it.

    Raises:
        ModelFormatError: not a TF2 SavedModel, TF1 Hub module or TF1 SavedModel, or damaged.
    """
    found = detect_format(path)
    try:
        report = full_report(path)
    except ModelFormatError:
        raise
    except Exception:  # a bug in the inspector must not block publishing
        logger.exception("Inspecting %s failed; storing the basic report", path)
        report = None
    return Inspected(found.kind, report if report is not None else basic_report(found))
