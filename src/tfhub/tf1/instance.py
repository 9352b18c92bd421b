"""One ``hub.Module`` in one graph: its state, imported once (variables, tables, assets),
and each signature call, imported again with the state and the inputs fed in.

The graph variant is imported twice over: the *state import* (under the module's scope,
e.g. ``module/``) creates the stateful nodes (variables, hash tables: stateful ops without
inputs); each *apply import* (e.g. ``module_apply_default/``) creates the computation with
those nodes removed and their outputs, like the signature inputs, replaced through
``input_map``. All calls of one instance share its state; instances never share anything.
"""

from __future__ import annotations

from typing import Any

from tfhub.core.hub_module import Signature
from tfhub.tf1._tf import proto, v1
from tfhub.tf1.export import slice_spec
from tfhub.tf1.meta_graph import (
    consumed_tensors,
    keep_collections,
    prefix_shared_names,
    remove_nodes,
)
from tfhub.tf1.tensor_info import build_output, input_feeds

_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")


def _copy(meta_graph: Any) -> Any:
    copy = v1().MetaGraphDef()
    copy.CopyFrom(meta_graph)
    return copy


class Instance:
    """The graph side of a ``Module``: state import at construction, :meth:`apply` per call.

    Args:
        meta_graph: the graph variant (not modified).
        checkpoint_path: the module's variables checkpoint, or None to keep the initializers
            of the graph (a spec made by ``create_module_spec``).
        trainable: fill TRAINABLE_VARIABLES, REGULARIZATION_LOSSES and UPDATE_OPS.
        scope: the absolute, unused name scope for the state (e.g. ``outer/module``).
    """

    def __init__(
        self, meta_graph: Any, checkpoint_path: str | None, trainable: bool, scope: str
    ) -> None:
        self._meta_graph = meta_graph
        self._trainable = trainable
        self.scope = scope
        graph = v1().get_default_graph()
        with graph.control_dependencies(None):
            self._state = self._import_state(graph)
            self.variable_map = self._create_variables()
        if checkpoint_path and self.variable_map:
            v1().train.init_from_checkpoint(checkpoint_path, dict(self.variable_map))

    # -- the state --------------------------------------------------------------------------

    def _import_state(self, graph: Any) -> dict[str, Any]:
        keys = v1().GraphKeys
        keep = [keys.TABLE_INITIALIZERS, keys.ASSET_FILEPATHS, keys.COND_CONTEXT]
        keep.append(keys.WHILE_CONTEXT)
        if self._trainable:
            keep.append(keys.REGULARIZATION_LOSSES)
        meta_graph = _copy(self._meta_graph)
        keep_collections(meta_graph, keep)  # variables are created by _create_variables
        prefix_shared_names(meta_graph.graph_def, self.scope)
        v1().train.import_meta_graph(meta_graph, import_scope=self.scope.rsplit("/", 1)[-1])
        state = {}
        for node in meta_graph.graph_def.node:
            op = graph.get_operation_by_name(f"{self.scope}/{node.name}")
            if op.op_def.is_stateful and not op.op_def.input_arg:
                state.update({f"{node.name}:{i}": out for i, out in enumerate(op.outputs)})
        return state

    def _variable_defs(self, key: str) -> list[bytes]:
        collections = self._meta_graph.collection_def
        return list(collections[key].bytes_list.value) if key in collections else []

    def _create_variables(self) -> dict[str, Any]:
        """The module's variables, from their VariableDefs, in the collections they belong
        to; returns the variable map (partitioned variables as lists of parts)."""
        keys = v1().GraphKeys
        variable_def = proto("framework.variable_pb2").VariableDef
        trainable = set(self._variable_defs(keys.TRAINABLE_VARIABLES)) if self._trainable else ()
        model = set(self._variable_defs(keys.MODEL_VARIABLES))
        graph = v1().get_default_graph()
        singles: dict[str, Any] = {}
        parts: dict[str, list[tuple[int, Any]]] = {}
        self.checkpoint_entries: list[tuple[str, str, Any]] = []
        for data in self._variable_defs(keys.GLOBAL_VARIABLES):
            definition = variable_def.FromString(data)
            definition.trainable = data in trainable
            variable = v1().Variable(
                variable_def=definition,
                import_scope=self.scope,
                use_resource=definition.is_resource,
            )
            graph.add_to_collection(keys.GLOBAL_VARIABLES, variable)
            if data in trainable:
                graph.add_to_collection(keys.TRAINABLE_VARIABLES, variable)
            if data in model:
                graph.add_to_collection(keys.MODEL_VARIABLES, variable)
            sliced = definition.save_slice_info_def
            if sliced.full_name:
                offset = sliced.var_offset[0] if sliced.var_offset else 0
                parts.setdefault(sliced.full_name, []).append((offset, variable))
                entry = (sliced.full_name, slice_spec(definition), variable)
            else:
                singles[definition.variable_name.split(":", 1)[0]] = variable
                entry = (definition.variable_name.split(":", 1)[0], "", variable)
            self.checkpoint_entries.append(entry)
        for name, pieces in parts.items():
            singles[name] = [v for _, v in sorted(pieces, key=lambda p: p[0])]
        return singles

    # -- the calls --------------------------------------------------------------------------

    def apply(self, signature: Signature, inputs: dict[str, Any], name: str) -> dict[str, Any]:
        """Imports the computation of ``signature`` under a fresh scope based on ``name``."""
        graph = v1().get_default_graph()
        scope = graph.unique_name(name, mark_as_used=False)
        feeds = dict(self._state)
        for key, info in signature.inputs.items():
            feeds.update(input_feeds(info, inputs[key]))
        meta_graph = self._apply_meta_graph(feeds)
        used = consumed_tensors(meta_graph.graph_def)
        present = {node.name for node in meta_graph.graph_def.node}
        input_map = {k: v for k, v in feeds.items() if k in used or k.split(":")[0] in present}
        prefix_shared_names(meta_graph.graph_def, scope)
        v1().train.import_meta_graph(
            meta_graph, import_scope=scope.rsplit("/", 1)[-1], input_map=input_map
        )

        def get_tensor(tensor_name: str) -> Any:
            if tensor_name in feeds:
                return feeds[tensor_name]
            return graph.get_tensor_by_name(f"{scope}/{tensor_name}")

        return {k: build_output(info, get_tensor) for k, info in signature.outputs.items()}

    def _apply_meta_graph(self, feeds: dict[str, Any]) -> Any:
        keys = v1().GraphKeys
        keep = [keys.ASSET_FILEPATHS, keys.COND_CONTEXT, keys.WHILE_CONTEXT]
        if self._trainable:
            keep.append(keys.UPDATE_OPS)
        meta_graph = _copy(self._meta_graph)
        keep_collections(meta_graph, keep)
        state_nodes = {name.split(":")[0] for name in self._state}
        removed = {
            node.name
            for node in meta_graph.graph_def.node
            if node.name in state_nodes or (node.op in _PLACEHOLDERS and f"{node.name}:0" in feeds)
        }
        remove_nodes(meta_graph.graph_def, removed)
        return meta_graph
