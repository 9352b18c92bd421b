"""The typed result of ``tfhub inspect``: frozen dataclasses and their JSON form.

The JSON form (``InspectReport.to_dict()`` / ``to_json()``) is versioned by its ``schema``
field (``"tfhub.inspect/1"``) and described by ``schema_v1.json`` next to this module;
``InspectReport.from_dict`` reads it back (the hub server stores reports this way).

Example:
    >>> cell = CompatCell(works=True, call="tfhub.KerasLayer('/m')", note="")
    >>> CompatCell.from_dict(cell.to_dict()) == cell
    True
    >>> TensorInfo.from_dict({"name": "x", "kind": "dense", "dtype": "float32",
    ...     "shape": [None, 3], "ragged_rank": None, "type_spec": None, "tensors": ["x:0"]})
    TensorInfo(name='x', kind='dense', dtype='float32', shape=(None, 3), ragged_rank=None, \
type_spec=None, tensors=('x:0',))
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from tfhub.core.formats import TF1_HUB_MODULE as TF1_HUB_MODULE
from tfhub.core.formats import TF1_SAVED_MODEL as TF1_SAVED_MODEL
from tfhub.core.formats import TF2_SAVED_MODEL as TF2_SAVED_MODEL
from tfhub.core.hub_module import format_tags
from tfhub.errors import ModelFormatError, ModuleLookupError
from tfhub.inspection.scan import Finding, OpLibrary, ScanResult

SCHEMA = "tfhub.inspect/1"

# Values of InspectReport.format: the formats of tfhub.core.formats (re-exported above), and
KERAS_SAVED_MODEL = "keras-saved-model"
FORMATS = (TF1_HUB_MODULE, TF2_SAVED_MODEL, TF1_SAVED_MODEL, KERAS_SAVED_MODEL)

_T = TypeVar("_T", bound="_Json")


class _Json:
    """``to_dict`` / ``from_dict`` for the dataclasses below, driven by their type hints."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[_T], data: Any) -> _T:
        """Builds the object from its ``to_dict()`` form.

        Raises:
            ModelFormatError: a field is missing, unknown or of the wrong type (the message
                names it).
        """
        return typing.cast(_T, _from_json(cls, data, cls.__name__))


@dataclass(frozen=True)
class TensorInfo(_Json):
    """One input or output: ``kind`` is ``dense``, ``sparse``, ``ragged`` or ``composite``
    (``type_spec`` names the class); ``shape`` has ``None`` for unknown dimensions and is
    ``None`` for an unknown rank; ``tensors`` are the graph tensors behind it."""

    name: str
    kind: str
    dtype: str
    shape: tuple[int | None, ...] | None
    ragged_rank: int | None = None
    type_spec: str | None = None
    tensors: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureInfo(_Json):
    """A named signature of a graph variant."""

    name: str
    method_name: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


@dataclass(frozen=True)
class GraphVariantInfo(_Json):
    """One MetaGraph: its tags (sorted; the TF1 Hub inference variant has none), its
    signatures, and the size of its ``update_ops`` / ``regularization_losses`` collections
    (TF1 formats; 0 for TF2)."""

    tags: tuple[str, ...]
    signatures: tuple[SignatureInfo, ...]
    update_ops: int = 0
    regularization_losses: int = 0


@dataclass(frozen=True)
class CallTrace(_Json):
    """One traced call of the root ``__call__``: its tensor inputs and the Python value of
    ``training`` it was traced with (None if it takes none)."""

    inputs: tuple[TensorInfo, ...]
    training: bool | None


@dataclass(frozen=True)
class ReusableInfo(_Json):
    """The Reusable SavedModel attributes of a TF2 SavedModel's root: ``call`` (a
    ``tf.function`` ``__call__``; whether it takes ``training``; its traces), the length of
    ``variables``, ``trainable_variables`` and ``regularization_losses`` (None when missing);
    what the conventions miss (``problems``) and what to know (``notes``), as
    ``check_reusable_saved_model`` says."""

    call: bool
    call_accepts_training: bool
    call_traces: tuple[CallTrace, ...]
    variables: int | None
    trainable_variables: int | None
    regularization_losses: int | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the model meets the Reusable SavedModel conventions."""
        return not self.problems


@dataclass(frozen=True)
class VariableInfo(_Json):
    """A variable of the checkpoint. ``resource`` is False for TF1 reference variables
    (``VariableV2``), which TF2 cannot fine-tune."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None
    trainable: bool
    resource: bool = True


@dataclass(frozen=True)
class VariablesInfo(_Json):
    """The variables the checkpoint holds (``count`` of them, ``trainable`` and
    ``reference`` ones among them) and the size of ``variables/``."""

    count: int
    trainable: int
    reference: int
    checkpoint_bytes: int
    checkpoint_files: int
    items: tuple[VariableInfo, ...] = ()


@dataclass(frozen=True)
class FileInfo(_Json):
    """A file under the model directory (path relative to it, ``/``-separated)."""

    path: str
    size: int


@dataclass(frozen=True)
class AttachmentInfo(_Json):
    """A message attached to a TF1 Hub module (``hub.attach_message``)."""

    key: str
    size: int


@dataclass(frozen=True)
class ImageInfo(_Json):
    """What an image module expects: ``source`` is ``image_module_info`` (the attached
    message) or ``input shape`` (the ``images`` input of the default signature)."""

    height: int | None
    width: int | None
    channels: int | None
    source: str


@dataclass(frozen=True)
class KerasInfo(_Json):
    """Which Keras saved the model: ``library`` is ``tf_keras`` or ``keras3``; ``object``
    what was saved (``sequential``, ``model``, ``export archive``...)."""

    library: str
    object: str
    metadata_file: bool


@dataclass(frozen=True)
class CompatCell(_Json):
    """One cell of the compatibility table: whether it works, the call to use (or, when it
    does not work, the closest one) and a note (why not, or what to know)."""

    works: bool
    call: str
    note: str = ""


@dataclass(frozen=True)
class CompatRow(_Json):
    """One operation in each mode: TF1 compatibility mode, TF2 with tf_keras, Keras 3."""

    tf1_compat: CompatCell
    tf2_tf_keras: CompatCell
    keras3: CompatCell


@dataclass(frozen=True)
class CompatTable(_Json):
    """This model's compatibility table: ``load``, ``fine_tune``, ``create`` by mode."""

    load: CompatRow
    fine_tune: CompatRow
    create: CompatRow
    notes: tuple[str, ...] = ()


OPERATIONS = ("load", "fine_tune", "create")
MODES = ("tf1_compat", "tf2_tf_keras", "keras3")


@dataclass(frozen=True)
class _ReportHead(_Json):
    """Which report, by which tfhub, of which model: the first fields of a report."""

    schema: str
    tfhub_version: str
    handle: str | None
    path: str


@dataclass(frozen=True)
class ModelContents(_Json):
    """What the model's files say (``tfhub.inspection.read.read_model``): the report
    without its head, the scan and the compatibility table."""

    format: str
    tensorflow_version: str | None
    keras: KerasInfo | None
    graph_variants: tuple[GraphVariantInfo, ...]
    reusable: ReusableInfo | None
    variables: VariablesInfo
    assets: tuple[FileInfo, ...]
    attachments: tuple[AttachmentInfo, ...]
    image: ImageInfo | None

    def field_values(self) -> dict[str, Any]:
        """The fields by name (not converted, unlike :meth:`to_dict`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class InspectReport(ModelContents, _ReportHead):
    """Everything ``tfhub inspect`` reports about a model (see the README for each field).

    The fields, in this order (a dataclass lays out its bases' fields from the last base):
    ``schema``, ``tfhub_version``, ``handle``, ``path``, the :class:`ModelContents`,
    ``scan``, ``compatibility``, ``problems``.
    """

    scan: ScanResult
    compatibility: CompatTable | None = None
    problems: tuple[str, ...] = ()
    """What is wrong with the model's files (e.g. its checkpoint is missing): it will not
    load as it is, and the compatibility table says no."""

    # Fields added to the schema after its first release: older reports lack them.
    _ADDED: typing.ClassVar[frozenset[str]] = frozenset({"problems"})

    def to_json(self, indent: int | None = 1) -> str:
        """The report as JSON text (schema ``tfhub.inspect/1``)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> InspectReport:
        """Reads :meth:`to_json`'s output back.

        Raises:
            ModelFormatError: not JSON, or not a ``tfhub.inspect/1`` report.
        """
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ModelFormatError(f"Not an inspect report: invalid JSON ({e}).") from e
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> InspectReport:
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema != SCHEMA:
            raise ModelFormatError(
                f"Not a {SCHEMA} report (schema {schema!r}); it was written by another version "
                "of tfhub: inspect the model again."
            )
        return typing.cast(InspectReport, _from_json(cls, data, "InspectReport"))

    def signature(self, name: str, tags: tuple[str, ...] | None = None) -> SignatureInfo:
        """The signature ``name`` of the variant with ``tags`` (default: the first one).

        Raises:
            ModuleLookupError: no such signature (the message lists the variant's).
        """
        wanted = None if tags is None else tuple(sorted(tags))
        for variant in self.graph_variants:
            if wanted is None or variant.tags == wanted:
                for signature in variant.signatures:
                    if signature.name == name:
                        return signature
                available = ", ".join(s.name for s in variant.signatures) or "none"
                raise ModuleLookupError(
                    f"No signature {name!r} in the graph variant {format_tags(variant.tags)} of "
                    f"{self.path}. Available: {available}."
                )
        available = ", ".join(format_tags(v.tags) for v in self.graph_variants) or "none"
        raise ModuleLookupError(
            f"No graph variant with tags {format_tags(wanted or ())} in {self.path}. "
            f"Available: {available}."
        )


# -- JSON conversion ------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, ScanResult):
        return _scan_to_json(value)
    if isinstance(value, _Json):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _scan_to_json(scan: ScanResult) -> dict[str, Any]:
    """The scan by the attributes of its contract (its own ``to_dict`` may carry more)."""
    return {
        "findings": [
            {"op": f.op, "severity": f.severity, "location": f.location, "reason": f.reason}
            for f in scan.findings
        ],
        "op_libraries": [
            {"package": lib.package, "ops": list(lib.ops)} for lib in scan.op_libraries
        ],
        "nodes_scanned": scan.nodes_scanned,
        "functions_scanned": scan.functions_scanned,
    }


def _scan_from_json(data: Any, where: str) -> ScanResult:
    doc = _check_keys(
        data, ("findings", "op_libraries", "nodes_scanned", "functions_scanned"), where
    )
    findings = tuple(
        Finding(
            op=_from_json(str, f.get("op"), f"{where}.findings[{i}].op"),
            severity=_from_json(str, f.get("severity"), f"{where}.findings[{i}].severity"),
            location=_from_json(str, f.get("location"), f"{where}.findings[{i}].location"),
            reason=_from_json(str, f.get("reason"), f"{where}.findings[{i}].reason"),
        )
        for i, f in enumerate(_dicts(doc["findings"], f"{where}.findings"))
    )
    libraries = tuple(
        OpLibrary(
            package=_from_json(str | None, lib.get("package"), f"{where}.op_libraries[{i}]"),
            ops=_from_json(tuple[str, ...], lib.get("ops"), f"{where}.op_libraries[{i}].ops"),
        )
        for i, lib in enumerate(_dicts(doc["op_libraries"], f"{where}.op_libraries"))
    )
    return ScanResult(
        findings=findings,
        op_libraries=libraries,
        nodes_scanned=_from_json(int, doc["nodes_scanned"], f"{where}.nodes_scanned"),
        functions_scanned=_from_json(int, doc["functions_scanned"], f"{where}.functions_scanned"),
    )


def _dicts(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ModelFormatError(f"Bad inspect report: {where} must be a list of objects.")
    return value


def _check_keys(data: Any, names: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ModelFormatError(f"Bad inspect report: {where} must be an object.")
    missing = [n for n in names if n not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        raise ModelFormatError(
            f"Bad inspect report: {where} "
            + (f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(unknown)}")
            + "."
        )
    return data


def _from_json(tp: Any, value: Any, where: str) -> Any:
    """``value`` (from JSON) as type ``tp``, checked; raises ModelFormatError naming
    ``where`` otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _from_json(option, value, where)
            except ModelFormatError:
                continue
        raise ModelFormatError(f"Bad inspect report: {where} has the wrong type ({value!r}).")
    if origin is tuple:
        if not isinstance(value, list):
            raise ModelFormatError(f"Bad inspect report: {where} must be a list.")
        item = typing.get_args(tp)[0]
        return tuple(_from_json(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is ScanResult:
        return _scan_from_json(value, where)
    if isinstance(tp, type) and issubclass(tp, _Json):
        hints = typing.get_type_hints(tp)
        names = tuple(f.name for f in dataclasses.fields(tp))  # type: ignore[arg-type]
        added: frozenset[str] = getattr(tp, "_ADDED", frozenset())
        if isinstance(value, dict):  # an older report: the fields added since take defaults
            names = tuple(n for n in names if n in value or n not in added)
        doc = _check_keys(value, names, where)
        return tp(**{n: _from_json(hints[n], doc[n], f"{where}.{n}") for n in names})
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    raise ModelFormatError(
        f"Bad inspect report: {where} must be {getattr(tp, '__name__', tp)}, got {value!r}."
    )
