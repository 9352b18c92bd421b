"""A version's stored inspection report, read back for the JSON API and the pages.

The report is stored as the JSON of :class:`tfhub.inspection.InspectReport` (schema
``tfhub.inspect/1``) without its compatibility table; :func:`shown` reads it, rebuilds the
table with the hub URL of the version (so its calls can be copied as they are) and
writes the snippets (:mod:`tfhub.server.snippets`) from it. Versions are immutable, so
the result is cached per report and URL. A report of another schema (a version published
by an older hub) is passed through as it is, without table or tailored snippets.

Example:
    >>> view = shown('{"schema": "old"}', "tf2-saved-model", "http://hub/acme/enc/1")
    >>> view.format, view.typed is None, [s.key for s in view.snippets]
    ('tf2-saved-model', True, ['tf2', 'tf1_compat', 'keras3'])
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from tfhub.errors import HubError
from tfhub.inspection import SCHEMA, InspectReport, with_compatibility
from tfhub.server.snippets import Snippet, model_snippets

logger = logging.getLogger("tfhub.server")


@dataclass(frozen=True)
class Shown:
    """What the API and the pages show of a report: ``report`` (its JSON form, the table
    naming the handle), ``typed`` (None if it is not a ``tfhub.inspect/1`` report),
    ``format`` (the report's, e.g. ``keras-saved-model``; else the stored one) and the
    snippets. Shared by callers: do not change ``report``."""

    report: dict[str, Any]
    typed: InspectReport | None
    format: str
    snippets: tuple[Snippet, ...]


def parse(report_json: str | None) -> dict[str, Any]:
    """The stored JSON as a dict ({} if it is not a JSON object)."""
    try:
        report = json.loads(report_json or "{}")
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


@functools.lru_cache(maxsize=256)
def shown(report_json: str | None, stored_format: str, handle: str) -> Shown:
    """The report of a version at ``handle`` whose stored format is ``stored_format``."""
    report = parse(report_json)
    typed = None
    if report.get("schema") == SCHEMA:
        try:
            typed = with_compatibility(InspectReport.from_dict(report), handle)
        except (HubError, ValueError, KeyError, TypeError):
            logger.warning("cannot read the stored report of %s", handle, exc_info=True)
    if typed is not None:
        report = {**typed.to_dict(), "path": ""}
    kind = typed.format if typed is not None else stored_format
    return Shown(report, typed, kind, model_snippets(typed, kind, handle))
