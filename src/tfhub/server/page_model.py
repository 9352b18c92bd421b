"""What a model page shows, built from the database rows and the stored inspection report.

The report is the JSON of :class:`tfhub.inspection.InspectReport` (schema
``tfhub.inspect/1``; older hubs may have stored another). It is read leniently: whatever a
report lacks is left out of the page. The compatibility table is rebuilt with the page's
own URL as the handle (:mod:`tfhub.server.reports`), so its calls can be copied as they
are.

Example:
    >>> format_label("tf1-hub-module"), human_bytes(1_234_567), shape_text([None, 3])
    ('TF1 Hub module', '1.2 MB', '[?, 3]')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from tfhub.core.hub_module import format_tags
from tfhub.core.progress import format_size
from tfhub.inspection import SCHEMA
from tfhub.server.reports import shown
from tfhub.server.snippets import Snippet

FORMAT_LABELS = {
    "tf2-saved-model": "TF2 SavedModel",
    "tf1-hub-module": "TF1 Hub module",
    "tf1-saved-model": "TF1 SavedModel",
    "keras-saved-model": "Keras SavedModel",
}
MODES = (("tf1_compat", "TF1 compatibility mode"), ("tf2_tf_keras", "TF2 (tf_keras)"),
         ("keras3", "TF2 with Keras 3"))  # fmt: skip
OPERATIONS = (("load", "Load / inference"), ("fine_tune", "Fine-tune"), ("create", "Create"))
SEVERITIES = {"high": 0, "medium": 1, "low": 2}


def format_label(kind: str) -> str:
    """A model format for people: ``tf2-saved-model`` -> ``TF2 SavedModel``."""
    return FORMAT_LABELS.get(kind, kind or "unknown format")


def human_bytes(size: int | None) -> str:
    """``1234567`` -> ``1.2 MB`` (the CLI's :func:`~tfhub.core.progress.format_size`)."""
    return "unknown" if size is None else format_size(size)


def shape_text(shape: Any) -> str:
    """A JSON shape as ``[?, 3]``; ``None`` is an unknown rank."""
    if not isinstance(shape, list):
        return "unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _dict(value: Any, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def _list(value: Any, key: str) -> list[Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []


def _str(value: Any, key: str, default: str = "") -> str:
    found = value.get(key) if isinstance(value, dict) else None
    return str(found) if isinstance(found, str | int | float) else default


def _int(value: Any, key: str) -> int | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


@dataclass(frozen=True)
class TensorRow:
    name: str
    dtype: str
    shape: str
    kind: str


@dataclass(frozen=True)
class SignatureView:
    name: str
    method: str
    inputs: list[TensorRow]
    outputs: list[TensorRow]


@dataclass(frozen=True)
class VariantView:
    """A graph variant: ``label`` names its tags; ``same_as`` another variant with the same
    signatures (not repeated)."""

    label: str
    signatures: list[SignatureView]
    update_ops: int = 0
    regularization_losses: int = 0
    same_as: str | None = None


@dataclass(frozen=True)
class CompatCellView:
    works: bool
    call: str
    note: str


@dataclass(frozen=True)
class CompatRowView:
    operation: str
    cells: list[CompatCellView]


@dataclass(frozen=True)
class CompatView:
    modes: list[str]
    rows: list[CompatRowView]
    notes: list[str]


@dataclass(frozen=True)
class FindingView:
    op: str
    severity: str
    location: str
    reason: str


@dataclass(frozen=True)
class OpLibraryView:
    package: str
    ops: list[str]


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Inspection:
    """The parts of the report a page shows."""

    variants: list[VariantView] = field(default_factory=list)
    compat: CompatView | None = None
    findings: list[FindingView] = field(default_factory=list)
    op_libraries: list[OpLibraryView] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scanned: str = ""
    full: bool = False


def _tensor(data: Any) -> TensorRow:
    kind = _str(data, "kind", "dense")
    if kind == "ragged" and _int(data, "ragged_rank") is not None:
        kind += f" (ragged_rank {_int(data, 'ragged_rank')})"
    elif kind == "composite" and _str(data, "type_spec"):
        kind += f" ({_str(data, 'type_spec')})"
    return TensorRow(_str(data, "name"), _str(data, "dtype"), shape_text(data.get("shape")), kind)


def _signature(data: Any) -> SignatureView:
    if isinstance(data, str):  # the basic report: names only
        return SignatureView(data, "", [], [])
    inputs = [_tensor(t) for t in _list(data, "inputs") if isinstance(t, dict)]
    outputs = [_tensor(t) for t in _list(data, "outputs") if isinstance(t, dict)]
    return SignatureView(_str(data, "name"), _str(data, "method_name"), inputs, outputs)


def tags_label(tags: list[Any]) -> str:
    """``[]`` -> ``no tags (inference)``; ``["serve"]`` -> ``{serve}``."""
    return format_tags(str(t) for t in tags) if tags else "no tags (inference)"


def variants_of(report: dict[str, Any]) -> list[VariantView]:
    views: list[VariantView] = []
    seen: dict[str, str] = {}
    for variant in _list(report, "graph_variants"):
        label = tags_label(_list(variant, "tags"))
        signatures = [_signature(s) for s in _list(variant, "signatures")]
        key = repr(signatures)
        views.append(
            VariantView(
                label,
                [] if key in seen else signatures,
                _int(variant, "update_ops") or 0,
                _int(variant, "regularization_losses") or 0,
                seen.get(key) if signatures else None,
            )
        )
        seen.setdefault(key, label)
    return views


def compat_of(report: dict[str, Any]) -> CompatView | None:
    table = _dict(report, "compatibility")
    if not table:
        return None
    rows = []
    for key, label in OPERATIONS:
        row = _dict(table, key)
        cells = [
            CompatCellView(
                bool(_dict(row, mode).get("works")),
                _str(_dict(row, mode), "call"),
                _str(_dict(row, mode), "note"),
            )
            for mode, _ in MODES
        ]
        rows.append(CompatRowView(label, cells))
    notes = [str(n) for n in _list(table, "notes")]
    return CompatView([label for _, label in MODES], rows, notes)


def _scan(report: dict[str, Any]) -> tuple[list[FindingView], list[OpLibraryView], str]:
    scan = _dict(report, "scan")
    findings = sorted(
        (
            FindingView(_str(f, "op"), _str(f, "severity"), _str(f, "location"), _str(f, "reason"))
            for f in _list(scan, "findings")
            if isinstance(f, dict)
        ),
        key=lambda f: (SEVERITIES.get(f.severity, 3), f.op, f.location),
    )
    libraries = [
        OpLibraryView(
            _str(lib, "package") or "unknown package", [str(o) for o in _list(lib, "ops")]
        )
        for lib in _list(scan, "op_libraries")
        if isinstance(lib, dict)
    ]
    nodes, functions = _int(scan, "nodes_scanned"), _int(scan, "functions_scanned")
    scanned = "" if nodes is None else f"{nodes} graph nodes in {functions or 0} functions scanned"
    return findings, libraries, scanned


def _facts(report: dict[str, Any]) -> list[Fact]:
    facts = []
    variables = _dict(report, "variables")
    count = _int(variables, "count")
    if count is not None:
        text = f"{count} ({_int(variables, 'trainable') or 0} trainable"
        reference = _int(variables, "reference") or 0
        text += f", {reference} TF1 reference variables)" if reference else ")"
        facts.append(Fact("Variables", text))
        size = _int(variables, "checkpoint_bytes")
        files = _int(variables, "checkpoint_files") or 0
        facts.append(Fact("Checkpoint", f"{human_bytes(size)} in {files} files"))
    reusable = _dict(report, "reusable")
    if reusable:
        ok = not _list(reusable, "problems")
        verdict = "meets the conventions" if ok else "does not meet the conventions"
        facts.append(Fact("Reusable SavedModel", verdict))
    assets = _list(report, "assets")
    if assets:
        names = ", ".join(_str(a, "path") for a in assets[:8])
        facts.append(
            Fact("Assets", names + (f" and {len(assets) - 8} more" if len(assets) > 8 else ""))
        )
    if _str(report, "tensorflow_version"):
        facts.append(Fact("Saved with", f"TensorFlow {_str(report, 'tensorflow_version')}"))
    return facts


def inspection_of(report: dict[str, Any]) -> Inspection:
    """The page's view of ``report`` (its compatibility table already built for the
    page's URL, see :func:`tfhub.server.reports.shown`)."""
    findings, libraries, scanned = _scan(report)
    reusable = _dict(report, "reusable")
    notes = [str(p) for p in _list(reusable, "problems")] + [
        str(n) for n in _list(reusable, "notes")
    ]
    return Inspection(
        variants=variants_of(report),
        compat=compat_of(report),
        findings=findings,
        op_libraries=libraries,
        facts=_facts(report),
        notes=notes,
        scanned=scanned,
        full=report.get("schema") == SCHEMA,
    )


@dataclass(frozen=True)
class PageParts:
    """What a model page shows of a version's report: the model's format (the report's,
    e.g. ``keras-saved-model``), the inspection and the snippets."""

    format: str
    inspection: Inspection
    snippets: tuple[Snippet, ...]


@functools.lru_cache(maxsize=256)
def page_parts(report_json: str, kind: str, handle: str) -> PageParts:
    """The parts of the page of a version at ``handle``, from the stored report's JSON
    text and format. Versions are immutable: the result is cached."""
    view = shown(report_json, kind, handle)
    return PageParts(view.format, inspection_of(view.report), view.snippets)
