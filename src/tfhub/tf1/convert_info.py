"""What ``tfhub convert`` reports and the metadata it writes beside the converted SavedModel,
without TensorFlow: the :class:`ConvertReport`, the provenance note
(``assets.extra/tfhub_convert.json``) and the module's attached messages
(``assets.extra/tfhub_attachments.json``, read back with :func:`read_attachments`).

Example:
    >>> report = ConvertReport("/m", "/out", (), ("train",), ("default",), {"default": 0.0})
    >>> report.max_difference
    0.0
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tfhub.core.hub_module import GraphVariant, format_tags
from tfhub.errors import ModelFormatError, ModuleLookupError

EXTRA_DIR = "assets.extra"
PROVENANCE_FILE = "tfhub_convert.json"
ATTACHMENTS_FILE = "tfhub_attachments.json"
_FORMAT = 1
TRAIN = ("train",)


def describe_variants(inference_tags: Iterable[str], train_tags: Iterable[str]) -> str:
    """Which graph variant inference and ``training=True`` run, in words.

    >>> describe_variants((), ("train",))
    'inference {}, training {train}'
    >>> describe_variants((), ())
    'inference {}; training runs the inference variant (the module has no train variant)'
    """
    if tuple(sorted(train_tags)) != TRAIN:  # convert trains with {train} whenever it exists
        return (
            f"inference {format_tags(inference_tags)}; training runs the inference variant "
            "(the module has no train variant)"
        )
    return f"inference {format_tags(inference_tags)}, training {format_tags(train_tags)}"


@dataclass(frozen=True)
class ConvertReport:
    """The outcome of :func:`tfhub.convert`.

    ``differences`` maps each signature to the largest absolute difference between the
    source module's outputs and the converted model's on the sample inputs (every output,
    through the serving signature, ``signature_functions`` and, for ``default``,
    ``__call__``); it is empty when verification was skipped. ``variables_difference`` and
    ``regularization_difference`` compare the variables' values and the regularization
    losses the same way. ``random_outputs`` (``signature:output``) change from run to run in
    the source module itself (dropout, sampling) and are not compared.
    """

    source: str
    destination: str
    inference_tags: tuple[str, ...]
    train_tags: tuple[str, ...]
    signatures: tuple[str, ...]
    differences: Mapping[str, float] = field(default_factory=dict)
    serving_signatures: Mapping[str, str] = field(default_factory=dict)
    variables: int = 0
    trainable_variables: int = 0
    regularization_losses: int = 0
    assets: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    variables_difference: float | None = None
    regularization_difference: float | None = None
    tolerance: float | None = None
    verified: bool = False
    random_outputs: tuple[str, ...] = ()

    @property
    def max_difference(self) -> float | None:
        """The largest of all differences measured (None if not verified)."""
        values = [*self.differences.values(), self.variables_difference or 0.0]
        values.append(self.regularization_difference or 0.0)
        return max(values) if self.differences else None

    def summary(self) -> str:
        """Several lines for people: what was converted and how it was checked."""
        lines = [
            f"converted {self.source} -> {self.destination}",
            f"  graph variants: {describe_variants(self.inference_tags, self.train_tags)}",
            "  signatures: "
            + ", ".join(f"{tf1} -> {key}" for key, tf1 in sorted(self.serving_signatures.items())),
            f"  variables: {self.variables} ({self.trainable_variables} trainable), "
            f"regularization losses: {self.regularization_losses}",
            f"  assets: {', '.join(self.assets) or 'none'}; "
            f"attached messages: {', '.join(self.attachments) or 'none'}",
        ]
        if not self.verified:
            lines.append("  verification: skipped")
            return "\n".join(lines)
        for name, value in sorted(self.differences.items()):
            lines.append(f"  max difference {name}: {_number(value)}")
        if self.random_outputs:
            lines.append(
                "  not compared (random in the source module): " + ", ".join(self.random_outputs)
            )
        lines.append(f"  max difference variables: {_number(self.variables_difference)}")
        if self.regularization_losses:
            regularization = _number(self.regularization_difference)
            lines.append(f"  max difference regularization losses: {regularization}")
        lines.append(
            f"verified: largest difference {_number(self.max_difference)} "
            f"(tolerance {self.tolerance:g})"
        )
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-friendly values (``inf`` differences as strings)."""
        return {
            "source": self.source,
            "inference_tags": list(self.inference_tags),
            "train_tags": list(self.train_tags),
            "signatures": dict(self.serving_signatures),
            "verified": self.verified,
            "tolerance": self.tolerance,
            "differences": {k: _json_number(v) for k, v in self.differences.items()},
            "variables_difference": _json_number(self.variables_difference),
            "regularization_difference": _json_number(self.regularization_difference),
            "random_outputs": list(self.random_outputs),
        }


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _json_number(value: float | None) -> float | str | None:
    return str(value) if value is not None and not math.isfinite(value) else value


def _write_json(model_dir: str, name: str, data: Mapping[str, Any]) -> None:
    extra = os.path.join(model_dir, EXTRA_DIR)
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, name), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def write_provenance(model_dir: str, report: ConvertReport, versions: Mapping[str, str]) -> None:
    """Writes ``assets.extra/tfhub_convert.json``: where the model came from, which tfhub and
    TensorFlow converted it, and how it was verified."""
    data = {
        "format": _FORMAT,
        "converted_by": dict(versions),
        "converted_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **report.as_json(),
    }
    _write_json(model_dir, PROVENANCE_FILE, data)


def write_attachments(model_dir: str, variants: Iterable[GraphVariant]) -> None:
    """Writes ``assets.extra/tfhub_attachments.json``: every graph variant's attached
    messages (serialized protocol buffers, base64), keyed by the variant's tags."""
    data = {
        "format": _FORMAT,
        "variants": [
            {
                "tags": sorted(variant.tags),
                "attachments": {
                    key: base64.b64encode(value).decode("ascii")
                    for key, value in sorted(variant.attachments.items())
                },
            }
            for variant in variants
        ],
    }
    _write_json(model_dir, ATTACHMENTS_FILE, data)


def read_attachments(
    model_dir: str | os.PathLike[str], tags: Iterable[str] = ()
) -> dict[str, bytes]:
    """The attached messages of the source module's graph variant ``tags`` (default: the
    inference variant), as serialized protocol buffers: parse one with
    ``message_type.FromString(data)``.

    Raises:
        ModelFormatError: the directory holds no attachments file (not converted by tfhub).
        ModuleLookupError: the source module had no graph variant with these tags.

    Example:
        >>> info = read_attachments("/models/converted")["image_module_info"]  # doctest: +SKIP
        >>> ImageModuleInfo.FromString(info)  # doctest: +SKIP
    """
    path = os.path.join(os.fspath(model_dir), EXTRA_DIR, ATTACHMENTS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ModelFormatError(
            f"Cannot read {path}: {e}. Only models written by `tfhub convert` have it."
        ) from e
    wanted = sorted(set(tags))
    for variant in data.get("variants", []):
        if variant.get("tags") == wanted:
            return {k: base64.b64decode(v) for k, v in variant.get("attachments", {}).items()}
    available = ", ".join(format_tags(v.get("tags", ())) for v in data.get("variants", []))
    raise ModuleLookupError(
        f"No graph variant with tags {format_tags(wanted)} in {path}. "
        f"Available: {available or 'none'}."
    )
