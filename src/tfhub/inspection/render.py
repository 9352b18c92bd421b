"""The human form of an :class:`InspectReport`: plain text in aligned sections, at most
100 columns wide.

Example:
    >>> format_shape((None, 224, 224, 3)), format_shape(None), format_size(1_234_567)
    ('[?, 224, 224, 3]', '<unknown rank>', '1.2 MB')

Long words (paths, URLs, calls) are never split: a line may run past the width so that they
still paste.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from tfhub.core.hub_module import format_tags
from tfhub.core.progress import format_size
from tfhub.inspection.report import (
    MODES,
    OPERATIONS,
    TF1_HUB_MODULE,
    TF1_SAVED_MODEL,
    TF2_SAVED_MODEL,
    CompatTable,
    GraphVariantInfo,
    InspectReport,
    ReusableInfo,
    TensorInfo,
)

WIDTH = 100
LABEL = 14  # width of the left column
MAX_VARIABLES = 12  # variables listed before "... and N more"

_FORMAT_NAMES = {
    TF1_HUB_MODULE: "TF1 Hub module",
    TF2_SAVED_MODEL: "TF2 SavedModel",
    TF1_SAVED_MODEL: "TF1 SavedModel (plain, no object graph)",
}
_MODE_NAMES = {
    "tf1_compat": "TF1 compat mode",
    "tf2_tf_keras": "TF2 + tf_keras",
    "keras3": "Keras 3",
}
_OPERATION_NAMES = {"load": "load", "fine_tune": "fine-tune", "create": "create"}


def format_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _field(label: str, text: str) -> list[str]:
    """``label`` then ``text`` wrapped under the value column (words are never split).

    >>> _field("model", "/a/" + "x" * 100)[0] == "model         /a/" + "x" * 100
    True
    """
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=f"{label:<{LABEL}}",
        subsequent_indent=" " * LABEL,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [label]


def _wrap(text: str, indent: int) -> list[str]:
    """``text`` wrapped at ``indent`` (then ``indent + 2``); words are never split."""
    pad = " " * indent
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=pad,
        subsequent_indent=pad + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _format_name(report: InspectReport) -> str:
    if report.keras is not None:
        saved = "Keras 3 model.export()" if report.keras.library == "keras3" else "tf_keras"
        name = f"Keras-saved SavedModel ({saved}, {report.keras.object})"
    else:
        name = _FORMAT_NAMES.get(report.format, report.format)
    if report.reusable is not None:
        name += ", reusable" if report.reusable.ok else ", not reusable"
    if report.tensorflow_version:
        name += f"; saved with TensorFlow {report.tensorflow_version}"
    return name


def _tensor_line(direction: str, tensor: TensorInfo) -> str:
    kind = tensor.kind
    if tensor.kind == "ragged" and tensor.ragged_rank is not None:
        kind += f" (ragged_rank {tensor.ragged_rank})"
    elif tensor.kind == "composite":
        kind += f" ({tensor.type_spec})"
    shape = format_shape(tensor.shape)
    return f"    {direction:<4} {tensor.name:<22} {tensor.dtype:<9} {shape:<18} {kind}"


def _tags(tags: tuple[str, ...]) -> str:
    return format_tags(tags) + ("  (inference)" if not tags else "")


def _variants(variants: Iterable[GraphVariantInfo], tf1: bool) -> list[str]:
    lines: list[str] = []
    seen: dict[tuple[object, ...], tuple[str, ...]] = {}
    for variant in variants:
        lines += ["", f"graph variant {_tags(variant.tags)}"]
        if tf1 and (variant.update_ops or variant.regularization_losses):
            lines.append(
                f"  {variant.update_ops} update ops, "
                f"{variant.regularization_losses} regularization losses"
            )
        if variant.signatures in seen:
            lines.append(f"  signatures as in {_tags(seen[variant.signatures])}")
            continue
        seen[variant.signatures] = variant.tags
        if not variant.signatures:
            lines.append("  no signatures")
        for signature in variant.signatures:
            method = f"  ({signature.method_name})" if signature.method_name else ""
            lines.append(f"  signature {signature.name}{method}")
            lines += [_tensor_line("in", t) for t in signature.inputs]
            lines += [_tensor_line("out", t) for t in signature.outputs]
    return lines


def _reusable(reusable: ReusableInfo) -> list[str]:
    verdict = "meets the conventions" if reusable.ok else "does not meet the conventions"
    lines = ["", f"Reusable SavedModel: {verdict}"]
    call = "no"
    if reusable.call:
        call = "yes, takes `training`" if reusable.call_accepts_training else "yes, no `training`"
    lines += _field("  __call__", call)
    for trace in reusable.call_traces:
        inputs = ", ".join(
            f"{t.name}: {t.dtype} {format_shape(t.shape)}"
            + ("" if t.kind == "dense" else f" {t.kind}")
            for t in trace.inputs
        )
        training = "" if trace.training is None else f", training={trace.training}"
        lines += _field("  trace", f"{inputs or '()'}{training}")

    def count(n: int | None) -> str:
        return "missing" if n is None else str(n)

    lines += _field(
        "  attributes",
        f"variables {count(reusable.variables)}, trainable_variables "
        f"{count(reusable.trainable_variables)}, regularization_losses "
        f"{count(reusable.regularization_losses)}",
    )
    lines += [line for p in reusable.problems for line in _field("  problem", p)]
    lines += [line for n in reusable.notes for line in _field("  note", n)]
    return lines


def _variables(report: InspectReport) -> list[str]:
    v = report.variables
    text = f"{v.count} ({v.trainable} trainable"
    text += f", {v.reference} reference variables)" if v.reference else ")"
    if v.checkpoint_files:
        text += f"; checkpoint {format_size(v.checkpoint_bytes)} in {v.checkpoint_files} files"
    else:
        text += "; no checkpoint files"
    lines = _field("variables", text)
    for item in v.items[:MAX_VARIABLES]:
        flags = ("trainable" if item.trainable else "") + ("" if item.resource else " reference")
        details = f"{item.dtype:<9} {format_shape(item.shape):<18} {flags.strip()}".rstrip()
        line = f"{'':<{LABEL}}{item.name:<40} {details}"
        if len(line) > WIDTH:  # a long name: its details on the next line
            line = f"{'':<{LABEL}}{item.name}\n{'':<{LABEL + 41}}{details}"
        lines.append(line)
    if len(v.items) > MAX_VARIABLES:
        lines.append(f"{'':<{LABEL}}... and {len(v.items) - MAX_VARIABLES} more")
    return lines


def _files(report: InspectReport) -> list[str]:
    assets = ", ".join(f"{a.path} ({format_size(a.size)})" for a in report.assets)
    lines = _field("assets", assets or "none")
    if report.attachments:
        attached = ", ".join(f"{a.key} ({format_size(a.size)})" for a in report.attachments)
        lines += _field("attachments", attached)
    if report.image is not None:
        image = report.image
        size = f"{image.height or '?'} x {image.width or '?'}"
        channels = f", {image.channels} channels" if image.channels else ""
        lines += _field("image input", f"{size}{channels} (from {image.source})")
    return lines


def _scan(report: InspectReport) -> list[str]:
    scan = report.scan
    libraries = "; ".join(
        f"{lib.package or 'unknown package'}: {', '.join(lib.ops)}" for lib in scan.op_libraries
    )
    lines = [""]
    lines += _field("op libraries", libraries or "none beyond core TensorFlow")
    scanned = f"{scan.nodes_scanned} nodes, {scan.functions_scanned} functions scanned"
    lines += _field("risky ops", f"{len(scan.findings)} found ({scanned})")
    for finding in scan.findings:
        lines += _wrap(
            f"{finding.severity.upper():<7}{finding.op} at {finding.location}: {finding.reason}", 2
        )
    return lines


def _compatibility(table: CompatTable) -> list[str]:
    header = f"{'compatibility':<{LABEL}}" + "".join(f"{_MODE_NAMES[m]:<20}" for m in MODES)
    lines = ["", header.rstrip()]
    for operation in OPERATIONS:
        row = getattr(table, operation)
        cells = "".join(f"{'yes' if getattr(row, m).works else 'no':<20}" for m in MODES)
        lines.append(f"  {_OPERATION_NAMES[operation]:<{LABEL - 2}}{cells}".rstrip())
    for operation in OPERATIONS:
        row = getattr(table, operation)
        for mode in MODES:
            cell = getattr(row, mode)
            verdict = "works" if cell.works else "does not work"
            lines.append(f"  {_OPERATION_NAMES[operation]}, {_MODE_NAMES[mode]}: {verdict}")
            if cell.call:
                lines += _wrap(cell.call, 6)
            if cell.note:
                lines += _wrap(f"({cell.note})", 6)
    for note in table.notes:
        lines += ["", *_wrap(note, 0)]
    return lines


def render(report: InspectReport) -> str:
    """The report as readable text (what ``tfhub inspect`` prints)."""
    lines = _field("model", report.path)
    if report.handle and report.handle != report.path:
        lines += _field("handle", report.handle)
    lines += _field("format", _format_name(report))
    lines += [line for p in report.problems for line in _field("problem", p)]
    lines += _variables(report)
    lines += _files(report)
    tf1 = report.format in (TF1_HUB_MODULE, TF1_SAVED_MODEL)
    lines += _variants(report.graph_variants, tf1)
    if report.reusable is not None:
        lines += _reusable(report.reusable)
    lines += _scan(report)
    if report.compatibility is not None:
        lines += _compatibility(report.compatibility)
    return "\n".join(lines)
