"""Rewrites a TF1 graph's reference variables (``VariableV2``) as resource variables, so a
module written with TF1's default variables can be fine-tuned over TF2 ``tf.Variable`` s.

TF 1.x created ``VariableV2`` nodes unless ``use_resource=True``; most TF1 Hub modules have
them. A reference variable is a node whose output is a mutable ``float_ref`` edge: reads take
it as a value, ``Assign``/``AssignAdd``/``AssignSub`` write through it. TF2 variables are
resources: a handle read by ``ReadVariableOp`` and written by ``Assign*VariableOp``. This
module rewrites a ``GraphDef`` (a copy; nothing runs) so that each listed variable node
becomes a ``Placeholder`` for a resource handle (fed with the shared ``tf.Variable`` 's
handle), each read becomes a ``ReadVariableOp`` and each write its resource counterpart. A
write's node keeps its name and still yields the new value (a ``ReadVariableOp`` that runs
after the write), so update ops named in ``UPDATE_OPS`` and anything that uses the value of an
assignment keep working. The ``Ref*`` control-flow ops that carried reference edges become
their value forms.

Example:
    >>> graph_def = ...  # doctest: +SKIP
    >>> rewrite_reference_variables(graph_def, {"dense/kernel"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tfhub.errors import ModelFormatError

REFERENCE_VARIABLE_OPS = frozenset({"VariableV2", "Variable"})
_WRITES = {"Assign": "AssignVariableOp", "AssignAdd": "AssignAddVariableOp",
           "AssignSub": "AssignSubVariableOp"}  # fmt: skip
_REF_FORMS = {"RefSwitch": "Switch", "RefMerge": "Merge", "RefIdentity": "Identity",
              "RefEnter": "Enter", "RefExit": "Exit", "RefNextIteration": "NextIteration",
              "RefSelect": "Select"}  # fmt: skip
_DT_RESOURCE = 20
_SUFFIX = "/_tfhub_resource"


def _source(name: str) -> tuple[str, str]:
    """``(node name, ":k" or "")`` of an input string (control inputs keep their ``^``)."""
    node, _, port = name.partition(":")
    return node, f":{port}" if port and port != "0" else ""


def rewrite_reference_variables(graph_def: Any, variables: Iterable[str]) -> set[str]:
    """Rewrites, in place, the reference variable nodes named in ``variables`` (and every use
    of them) for resource handles; returns the names it rewrote.

    Raises:
        ModelFormatError: a variable is used by an op that has no resource form (e.g. a
            ``ScatterUpdate`` or a ``TemporaryVariable``), named in the message.
    """
    nodes = {node.name: node for node in graph_def.node}
    targets = {n for n in variables if n in nodes and nodes[n].op in REFERENCE_VARIABLE_OPS}
    if not targets:
        return set()
    dtypes = {name: nodes[name].attr["dtype"].type for name in targets}
    # Edges that carry a reference to a variable: the variable itself, and the first output
    # of Ref* forwarding ops fed by one (followed to a fixed point: loops and conds).
    carries = dict.fromkeys(targets, "")  # node -> variable it refers to
    changed = True
    while changed:
        changed = False
        for node in graph_def.node:
            if node.op in _REF_FORMS and node.name not in carries and node.input:
                source, port = _source(node.input[0])
                if source in carries and not port:
                    carries[node.name] = carries[source] or source
                    changed = True
    added = []
    for node in list(graph_def.node):
        if node.name in targets:
            continue
        if node.op in _REF_FORMS and node.name in carries:
            node.op = _REF_FORMS[node.op]
            node.attr["T"].type = _DT_RESOURCE
            continue
        refs = [i for i, name in enumerate(node.input) if _source(name)[0] in carries
                and not name.startswith("^")]  # fmt: skip
        if not refs:
            continue
        if node.op in _WRITES and refs == [0]:
            source = _source(node.input[0])[0]
            added += _rewrite_write(node, dtypes[carries[source] or source])
            continue
        if node.op == "IsVariableInitialized" and refs == [0]:
            node.op = "VarIsInitializedOp"
            node.attr.pop("dtype", None)
            continue
        if node.op in _UNSUPPORTED or (node.op in _WRITES and refs != [0]):
            raise ModelFormatError(
                f"Node {node.name!r} ({node.op}) writes to a reference variable in a way tfhub "
                "cannot map onto TF2 resource variables; fine-tuning this module in TF2 is not "
                "possible (load it without trainable=True, or use tfhub.Module in a graph)."
            )
        for i in refs:  # a read: the value, through ReadVariableOp
            source = _source(node.input[i])[0]
            variable = carries[source] or source
            reader = f"{source}{_SUFFIX}/read_for_{node.name}_{i}"
            added.append(_read(reader, node.input[i], dtypes[variable]))
            node.input[i] = reader
    for name in targets:  # the variable: a placeholder for the shared variable's handle
        node = nodes[name]
        node.op = "Placeholder"
        node.attr.clear()
        node.attr["dtype"].type = _DT_RESOURCE
        node.attr["shape"].shape.SetInParent()  # a scalar handle
    graph_def.node.extend(added)
    return targets


_UNSUPPORTED = frozenset(
    {"ScatterUpdate", "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMin",
     "ScatterMax", "ScatterNdUpdate", "ScatterNdAdd", "ScatterNdSub", "CountUpTo",
     "ApplyGradientDescent", "ApplyMomentum", "ApplyAdam", "ApplyAdagrad", "ApplyRMSProp",
     "ApplyFtrl", "TemporaryVariable", "DestroyTemporaryVariable"}
)  # fmt: skip


def _read(name: str, handle: str, dtype: int, control: str | None = None) -> Any:
    from tfhub.tf1._tf import proto

    node = proto("framework.node_def_pb2").NodeDef(name=name, op="ReadVariableOp")
    node.input.append(handle)
    if control:
        node.input.append(f"^{control}")
    node.attr["dtype"].type = dtype
    return node


def _rewrite_write(node: Any, dtype: int) -> list[Any]:
    """``Assign*`` -> ``Assign*VariableOp`` under a new name; the old name becomes a read of
    the new value (after the write), so consumers and ``UPDATE_OPS`` entries keep working."""
    from tfhub.tf1._tf import proto

    write = proto("framework.node_def_pb2").NodeDef()
    write.CopyFrom(node)
    write.name = f"{node.name}{_SUFFIX}/write"
    write.op = _WRITES[node.op]
    for key in list(write.attr):
        del write.attr[key]
    write.attr["dtype"].type = dtype
    handle = node.input[0]
    read = _read(node.name, handle, dtype, control=write.name)
    node.CopyFrom(read)
    return [write]
