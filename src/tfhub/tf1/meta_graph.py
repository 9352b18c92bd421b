"""Edits of ``MetaGraphDef`` protos: which collections a graph variant may hold and keeps
when imported, per-instance shared names, nodes replaced by ``input_map``, and asset paths
(bound into the module's ``assets/`` on load, unbound into the format's asset collection on
export)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from tfhub.core.hub_module import ASSETS_COLLECTION, ATTACHMENT_COLLECTION, asset_path
from tfhub.errors import ModelFormatError
from tfhub.tf1._tf import proto, v1

ASSET_MARK = b"SAVEDMODEL-ASSET"  # what an exported asset node holds instead of a path


def supported_collections() -> frozenset[str]:
    """The collections a graph variant of the format may hold."""
    keys = v1().GraphKeys
    return frozenset(
        {
            keys.GLOBAL_VARIABLES,  # VariableDef bytes
            keys.TRAINABLE_VARIABLES,
            keys.MODEL_VARIABLES,
            keys.TABLE_INITIALIZERS,  # operations
            keys.UPDATE_OPS,  # operations (batch-norm moving averages, ...)
            keys.REGULARIZATION_LOSSES,  # tensors, for fine-tuning
            keys.ASSET_FILEPATHS,  # string constants naming asset files
            keys.COND_CONTEXT,  # TF1 control flow
            keys.WHILE_CONTEXT,
            ATTACHMENT_COLLECTION,
        }
    )


def unsupported_collections(meta_graph: Any) -> list[str]:
    return sorted(set(meta_graph.collection_def) - supported_collections())


def keep_collections(meta_graph: Any, keys: Iterable[str]) -> None:
    """Deletes every collection of ``meta_graph`` not in ``keys``."""
    keep = set(keys)
    for key in list(meta_graph.collection_def):
        if key not in keep:
            del meta_graph.collection_def[key]


def prefix_shared_names(graph_def: Any, scope: str) -> None:
    """Makes the ``shared_name`` of stateful nodes (variables, tables) unique to ``scope``, so
    two instances of a module never share state in a session."""
    prefix = scope.encode("utf-8") + b"/"
    for node in graph_def.node:
        if "shared_name" in node.attr and node.attr["shared_name"].s:
            node.attr["shared_name"].s = prefix + node.attr["shared_name"].s


def consumed_tensors(graph_def: Any) -> set[str]:
    """Every ``node:index`` tensor some node reads (control inputs excluded)."""
    used = set()
    for node in graph_def.node:
        for name in node.input:
            if not name.startswith("^"):
                used.add(name if ":" in name else name + ":0")
    return used


def remove_nodes(graph_def: Any, names: set[str]) -> None:
    """Removes nodes whose outputs an ``input_map`` replaces, with the control inputs and
    colocation constraints that name them (the placer colocates resource users anyway)."""
    if not names:
        return
    kept = [node for node in graph_def.node if node.name not in names]
    stale = {b"loc:@" + name.encode("utf-8") for name in names}
    for node in kept:
        controls = [i for i in node.input if i.startswith("^") and i[1:] in names]
        for name in controls:
            node.input.remove(name)
        if "_class" in node.attr:
            values = [v for v in node.attr["_class"].list.s if v not in stale]
            if values:
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(values)
            else:
                del node.attr["_class"]
    del graph_def.node[:]
    graph_def.node.extend(kept)


def _node_name(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":", 1)[0]


def descendants(graph_def: Any, sources: Iterable[str]) -> dict[str, set[str]]:
    """For each source node, every node that depends on it (through data or control
    inputs, loops included)."""
    consumers: dict[str, list[str]] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(_node_name(name), []).append(node.name)
    found = {}
    for source in sources:
        seen: set[str] = set()
        stack = [source]
        while stack:
            for consumer in consumers.get(stack.pop(), ()):
                if consumer not in seen:
                    seen.add(consumer)
                    stack.append(consumer)
        found[source] = seen
    return found


def select_update_ops(meta_graph: Any, keep: Callable[[str], bool]) -> None:
    """Keeps the UPDATE_OPS entries whose node ``keep`` accepts."""
    key = v1().GraphKeys.UPDATE_OPS
    if key in meta_graph.collection_def:
        values = meta_graph.collection_def[key].node_list.value
        kept = [value for value in values if keep(_node_name(value))]
        del values[:]
        values.extend(kept)


def _asset_node(nodes: dict[str, Any], tensor_name: str) -> Any:
    node = nodes.get(_node_name(tensor_name))
    value = node.attr["value"].tensor if node is not None else None
    if node is None or node.op != "Const" or value is None or len(value.string_val) != 1:
        raise ModelFormatError(
            f"Asset tensor {tensor_name!r} is not a scalar string constant of the graph."
        )
    return node


def bind_assets(meta_graph: Any, module_dir: str) -> None:
    """Points the asset nodes of a loaded graph variant at the files in ``module_dir``'s
    ``assets/`` (refusing names that escape it) and drops the asset collection."""
    entries = []
    if ASSETS_COLLECTION in meta_graph.collection_def:
        any_list = meta_graph.collection_def[ASSETS_COLLECTION].any_list.value
        asset_def = proto("protobuf.meta_graph_pb2").AssetFileDef
        entries = [asset_def.FromString(packed.value) for packed in any_list]
        del meta_graph.collection_def[ASSETS_COLLECTION]
    entries += list(meta_graph.asset_file_def)
    del meta_graph.asset_file_def[:]
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    for entry in entries:
        path = asset_path(module_dir, entry.filename)
        node = _asset_node(nodes, entry.tensor_info.name)
        node.attr["value"].tensor.string_val[0] = path.encode("utf-8")


def _unique_name(source: str, taken: dict[str, str]) -> str:
    base = os.path.basename(source) or "asset"
    name, index = base, 0
    while name in taken.values():
        name, index = f"{base}{index}", index + 1
    return name


def unbind_assets(meta_graphs: Iterable[Any]) -> dict[str, str]:
    """Prepares graph variants for export: each asset node (in ``ASSET_FILEPATHS``) gets a
    placeholder value and an entry in the format's asset collection.

    Returns:
        Source path -> file name under the exported ``assets/``.
    """
    files: dict[str, str] = {}
    asset_def = proto("protobuf.meta_graph_pb2").AssetFileDef
    key = v1().GraphKeys.ASSET_FILEPATHS
    for meta_graph in meta_graphs:
        if key not in meta_graph.collection_def:
            continue
        nodes = {node.name: node for node in meta_graph.graph_def.node}
        collection = meta_graph.collection_def[ASSETS_COLLECTION].any_list.value
        for tensor_name in sorted(set(meta_graph.collection_def[key].node_list.value)):
            node = _asset_node(nodes, tensor_name)
            source = node.attr["value"].tensor.string_val[0].decode("utf-8")
            files.setdefault(source, _unique_name(source, files))
            node.attr["value"].tensor.string_val[0] = ASSET_MARK
            entry = asset_def(filename=files[source])
            entry.tensor_info.name = tensor_name
            collection.add().Pack(entry)
    return files
