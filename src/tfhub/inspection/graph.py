"""The variables of TF1 formats (TF1 Hub modules, TF1 SavedModels), without TensorFlow: the
``variables`` and ``trainable_variables`` collections of every MetaGraph (``VariableDef``
messages), with dtype and shape from the variable's node in the graph.

Example:
    >>> tf1_variables([])
    ()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tfhub.core.hub_module import dtype_name, parse_shape
from tfhub.core.wire import Value, fields, message, text
from tfhub.inspection.report import VariableInfo

GLOBAL_VARIABLES = "variables"  # tf.compat.v1.GraphKeys values
TRAINABLE_VARIABLES = "trainable_variables"
_RESOURCE_OPS = frozenset({"VarHandleOp"})


@dataclass
class _Variable:
    name: str
    resource: bool
    trainable: bool
    dtype: str = ""
    shape: tuple[int | None, ...] | None = None


def tf1_variables(meta_graphs: Iterable[memoryview]) -> tuple[VariableInfo, ...]:
    """The variables the MetaGraphs list (each once, in order of first appearance)."""
    found: dict[str, _Variable] = {}
    for meta_graph in meta_graphs:
        graph_def: Value | None = None
        for number, value in fields(meta_graph):
            if number == 2:
                graph_def = value
            elif number == 4:
                _collection(value, found)
        unresolved = {name for name, v in found.items() if not v.dtype}
        if graph_def is not None and unresolved:
            _resolve(graph_def, unresolved, found)
    return tuple(
        VariableInfo(v.name, v.dtype or "unknown", v.shape, v.trainable, v.resource)
        for v in found.values()
    )


def _collection(entry: Value, found: dict[str, _Variable]) -> None:
    """Adds the variables of one ``collection_def`` map entry, if it lists variables."""
    key, collection = "", None
    for number, value in fields(message(entry)):
        if number == 1:
            key = text(value)
        elif number == 2:
            collection = value
    if key not in (GLOBAL_VARIABLES, TRAINABLE_VARIABLES) or collection is None:
        return
    for number, value in fields(message(collection)):
        if number != 2:  # bytes_list
            continue
        for n, variable_def in fields(message(value)):
            if n == 1:
                _variable_def(variable_def, key == TRAINABLE_VARIABLES, found)


def _variable_def(proto: Value, listed_trainable: bool, found: dict[str, _Variable]) -> None:
    definition = dict(fields(message(proto)))
    name = text(definition.get(1, memoryview(b""))).split(":", 1)[0]
    if not name:
        return
    trainable = listed_trainable or bool(definition.get(7, 0))
    variable = found.get(name)
    if variable is None:
        found[name] = _Variable(name, bool(definition.get(5, 0)), trainable)
    else:
        variable.trainable = variable.trainable or trainable
        variable.resource = variable.resource or bool(definition.get(5, 0))


def _resolve(graph_def: Value, wanted: set[str], found: dict[str, _Variable]) -> None:
    """Reads dtype, shape and op (resource or reference) of the ``wanted`` nodes."""
    for number, node in fields(message(graph_def)):
        if number != 1:
            continue
        name = _node_name(node)
        if name not in wanted:
            continue
        op, attrs = "", {}
        for n, value in fields(message(node)):
            if n == 2:
                op = text(value)
            elif n == 5:
                key, attr = _attr(value)
                attrs[key] = attr
        variable = found[name]
        variable.resource = variable.resource or op in _RESOURCE_OPS
        if "dtype" in attrs:
            variable.dtype = dtype_name(int(attrs["dtype"].get(6, 0)))
        if "shape" in attrs and 7 in attrs["shape"]:
            variable.shape = parse_shape(attrs["shape"][7])
        wanted.discard(name)
        if not wanted:
            return


def _node_name(node: Value) -> str:
    """A ``NodeDef``'s name (its first field, as TensorFlow writes it)."""
    for number, value in fields(message(node)):
        if number == 1:
            return text(value)
        break
    return ""


def _attr(entry: Value) -> tuple[str, dict[int, Value]]:
    key, attr = "", {}
    for number, value in fields(message(entry)):
        if number == 1:
            key = text(value)
        elif number == 2:
            attr = dict(fields(message(value)))
    return key, attr
