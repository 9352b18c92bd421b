"""The object graph of a TF2 SavedModel, read without TensorFlow: its variables, the
Reusable SavedModel attributes of its root (with the traced calls of ``__call__``) and which
Keras, if any, saved it.

Field numbers come from ``saved_object_graph.proto`` and ``struct.proto``.

Example:
    >>> structure(bytes([0x70, 0x01]))  # StructuredValue{bool_value: true}
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfhub.core.conventions import assess, children, node_kind, root_attributes
from tfhub.core.hub_module import dtype_name, parse_shape, type_spec_info
from tfhub.core.wire import Value, fields, message, text
from tfhub.inspection.report import CallTrace, KerasInfo, ReusableInfo, TensorInfo, VariableInfo

_USER_OBJECT, _FUNCTION, _VARIABLE = 4, 6, 7
_TF_KERAS_PREFIX = "_tf_keras_"
# The children of a Keras 3 ``model.export()`` root (keras.export.ExportArchive).
_KERAS3_EXPORT_CHILDREN = frozenset({"_all_variables", "_misc_assets"})


def variables(nodes: list[memoryview]) -> tuple[VariableInfo, ...]:
    """Every variable of the object graph (what the checkpoint stores), in node order."""
    found = []
    for node in nodes:
        kind, body = node_kind(node)
        if kind != _VARIABLE or body is None:
            continue
        saved = dict(fields(body))
        dtype = dtype_name(int(saved.get(1, 0)))
        shape = parse_shape(saved[2]) if 2 in saved else None
        name = text(saved[6]) if 6 in saved else ""
        trainable = bool(saved.get(3, 0))
        found.append(VariableInfo(name, dtype, shape, trainable))
    return tuple(found)


def _user_object_identifier(node: memoryview) -> str | None:
    kind, body = node_kind(node)
    if kind != _USER_OBJECT or body is None:
        return None
    for n, value in fields(body):
        if n == 1:
            return text(value)
    return ""


def keras_info(nodes: list[memoryview], has_metadata_file: bool) -> KerasInfo | None:
    """Which Keras saved the model: ``tf_keras`` (``model.save(path, save_format="tf")``
    writes ``keras_metadata.pb`` and ``_tf_keras_*`` root objects) or Keras 3
    (``model.export(path)``), else None."""
    identifier = _user_object_identifier(nodes[0]) or ""
    if identifier.startswith(_TF_KERAS_PREFIX):
        return KerasInfo("tf_keras", identifier[len(_TF_KERAS_PREFIX) :], has_metadata_file)
    if has_metadata_file:
        return KerasInfo("tf_keras", identifier or "unknown", True)
    if set(children(nodes[0])) >= _KERAS3_EXPORT_CHILDREN:
        return KerasInfo("keras3", "export archive", False)
    return None


def reusable_info(
    path: str, nodes: list[memoryview], concrete: Mapping[str, memoryview]
) -> ReusableInfo:
    """The root's Reusable SavedModel attributes; ``concrete`` maps concrete function names
    to their ``SavedConcreteFunction`` (for the traces of ``__call__``)."""
    attributes = root_attributes(nodes)
    review = assess(path, attributes)
    traces: tuple[CallTrace, ...] = ()
    if attributes.call_is_function and attributes.call is not None:
        traces = call_traces(nodes[attributes.call], concrete)
    return ReusableInfo(
        call=attributes.call_is_function,
        call_accepts_training=attributes.call_accepts_training,
        call_traces=traces,
        variables=attributes.variables,
        trainable_variables=attributes.trainable_variables,
        regularization_losses=attributes.regularization_losses,
        problems=tuple(review.problems),
        notes=tuple(review.notes),
    )


def call_traces(node: memoryview, concrete: Mapping[str, memoryview]) -> tuple[CallTrace, ...]:
    """The traces of a ``SavedFunction`` node: tensor inputs by argument name, and
    ``training`` as traced."""
    _, function = node_kind(node)
    if function is None:
        return ()
    names = _positional_names(function)
    traces = []
    for n, value in fields(function):
        if n != 1 or text(value) not in concrete:
            continue
        signature = dict(fields(concrete[text(value)])).get(3)
        if signature is None:
            continue
        decoded = structure(signature)
        args, kwargs = decoded if isinstance(decoded, tuple) and len(decoded) == 2 else ((), {})
        named = dict(zip(names, args, strict=False)) | dict(kwargs)
        training = named.pop("training", None)
        inputs = tuple(_flat_specs(named, ""))
        trace = CallTrace(inputs, training if isinstance(training, bool) else None)
        if trace not in traces:
            traces.append(trace)
    return tuple(traces)


def _positional_names(function: memoryview) -> list[str]:
    """The names of a ``SavedFunction``'s positional arguments (``self`` left out)."""
    spec = dict(fields(function)).get(2)  # function_spec
    if spec is None or isinstance(spec, int):
        return []
    details = dict(fields(spec))
    argspec = structure(details[1]) if 1 in details else None
    names = argspec.get("args") if isinstance(argspec, dict) else None
    if not isinstance(names, list | tuple):
        return []
    names = [str(n) for n in names]
    return names[1:] if details.get(2) and names[:1] == ["self"] else names


def _flat_specs(value: Any, path: str) -> list[TensorInfo]:
    if isinstance(value, TensorInfo):
        return [TensorInfo(path or value.name, value.kind, value.dtype, value.shape,
                           value.ragged_rank, value.type_spec)]  # fmt: skip
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _flat_specs(v, f"{path}.{k}" if path else k)]
    if isinstance(value, tuple | list):
        return [s for i, v in enumerate(value) for s in _flat_specs(v, f"{path}[{i}]")]
    return []


def structure(proto: Value) -> Any:
    """A ``StructuredValue`` as Python: lists, tuples, dicts, ``None``, numbers, strings,
    and :class:`TensorInfo` for tensor and type specs."""
    for n, value in fields(message(proto)):
        if n == 1:
            return None
        if n in (12, 14):  # int64_value (sint64), bool_value
            number = int(value)
            return bool(number) if n == 14 else (number >> 1) ^ -(number & 1)
        if n == 13:
            return text(value)
        if n == 33:
            return _tensor_spec(value)
        if n == 34:
            info = type_spec_info(value)
            return TensorInfo("", info.kind, info.dtype, info.shape, info.ragged_rank,
                              info.type_spec_class)  # fmt: skip
        if n in (51, 52):
            items = [structure(v) for m, v in fields(message(value)) if m == 1]
            return tuple(items) if n == 52 else items
        if n == 53:
            return dict(_pair(v) for m, v in fields(message(value)) if m == 1)
        if n == 54:
            return dict(_pair(v) for m, v in fields(message(value)) if m == 2)
    return None


def _pair(entry: Value) -> tuple[str, Any]:
    key, found = "", None
    for n, value in fields(message(entry)):
        if n == 1:
            key = text(value)
        elif n == 2:
            found = structure(value)
    return key, found


def _tensor_spec(proto: Value) -> TensorInfo:
    spec = dict(fields(message(proto)))
    name = text(spec[1]) if 1 in spec else ""
    shape = parse_shape(spec[2]) if 2 in spec else None
    return TensorInfo(name, "dense", dtype_name(int(spec.get(3, 0))), shape)
