"""One ``hub.Module`` in one graph: its state, imported once (variables, tables, assets),
and each signature call, imported again with the state and the inputs fed in.

The graph variant is imported twice over: the *state import* (under the module's scope,
e.g. ``module/``) creates the stateful nodes (variables, hash tables: stateful ops without
inputs); each *apply import* (e.g. ``module_apply_default/``) creates the computation with
those nodes removed and their outputs, like the signature inputs, replaced through
``input_map``. All calls of one instance share its state; instances never share anything.

With ``trainable=True`` the variant's update ops go to UPDATE_OPS: from a call, those that
depend on its inputs and on no placeholder it leaves unfed (so another signature's update
ops never demand feeds); from the state import, those that depend on no input at all.
"""

from __future__ import annotations

import functools
from typing import Any

from tfhub.core.hub_module import GraphVariant, Signature
from tfhub.tf1._tf import proto, v1
from tfhub.tf1.export import slice_spec
from tfhub.tf1.meta_graph import (
    consumed_tensors,
    descendants,
    keep_collections,
    prefix_shared_names,
    remove_nodes,
    select_update_ops,
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
        variant: its description (signatures).
        checkpoint_path: the module's variables checkpoint, or None to keep the initializers
            of the graph (a spec made by ``create_module_spec``).
        trainable: fill TRAINABLE_VARIABLES, REGULARIZATION_LOSSES and UPDATE_OPS.
        scope: the absolute, unused name scope for the state (e.g. ``outer/module``).
    """

    def __init__(
        self,
        meta_graph: Any,
        variant: GraphVariant,
        checkpoint_path: str | None,
        trainable: bool,
        scope: str,
    ) -> None:
        self._meta_graph = meta_graph
        self._variant = variant
        self._trainable = trainable
        self.scope = scope
        graph = v1().get_default_graph()
        with graph.control_dependencies(None):
            self._state = self._import_state(graph)
            defs = self._variable_defs(v1().GraphKeys.GLOBAL_VARIABLES)
            created = [self._variable(data) for data in defs]
        self.variable_map = _variable_map(created)
        self.checkpoint_entries = [_checkpoint_entry(d, v) for d, v in created]
        """``(name in the checkpoint, slice spec, variable)`` of each variable."""
        if checkpoint_path and self.variable_map:
            v1().train.init_from_checkpoint(checkpoint_path, dict(self.variable_map))

    @functools.cached_property
    def _reach(self) -> dict[str, set[str]]:
        """What depends on each placeholder and signature input (to place update ops)."""
        inputs = {
            name.split(":", 1)[0]
            for signature in self._variant.signatures.values()
            for info in signature.inputs.values()
            for name in info.components
        }
        return descendants(self._meta_graph.graph_def, self._placeholders | inputs)

    @functools.cached_property
    def _placeholders(self) -> set[str]:
        return {n.name for n in self._meta_graph.graph_def.node if n.op == "Placeholder"}

    # -- the state --------------------------------------------------------------------------

    def _import_state(self, graph: Any) -> dict[str, Any]:
        """Imports the graph under the module's scope, without its variable collections;
        returns the outputs of its stateful nodes by name in the module graph."""
        keys = v1().GraphKeys
        keep = [keys.TABLE_INITIALIZERS, keys.ASSET_FILEPATHS, keys.COND_CONTEXT]
        keep.append(keys.WHILE_CONTEXT)
        if self._trainable:
            keep += [keys.REGULARIZATION_LOSSES, keys.UPDATE_OPS]
        meta_graph = _copy(self._meta_graph)
        keep_collections(meta_graph, keep)
        if keys.UPDATE_OPS in meta_graph.collection_def:
            select_update_ops(meta_graph, lambda op: not any(op in r for r in self._reach.values()))
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

    @functools.cached_property
    def _listed(self) -> dict[str, set[bytes]]:
        """The VariableDefs in TRAINABLE_VARIABLES and MODEL_VARIABLES."""
        keys = v1().GraphKeys
        wanted = (keys.TRAINABLE_VARIABLES, keys.MODEL_VARIABLES)
        return {key: set(self._variable_defs(key)) for key in wanted}

    def _variable(self, data: bytes) -> tuple[Any, Any]:
        """A variable of the state import, from its serialized VariableDef, added to the
        collections it belongs to; returns ``(VariableDef, variable)``."""
        keys = v1().GraphKeys
        definition = proto("framework.variable_pb2").VariableDef.FromString(data)
        trainable = self._trainable and data in self._listed[keys.TRAINABLE_VARIABLES]
        definition.trainable = trainable
        variable = v1().Variable(
            variable_def=definition, import_scope=self.scope, use_resource=definition.is_resource
        )
        graph = v1().get_default_graph()
        graph.add_to_collection(keys.GLOBAL_VARIABLES, variable)
        if trainable:
            graph.add_to_collection(keys.TRAINABLE_VARIABLES, variable)
        if data in self._listed[keys.MODEL_VARIABLES]:
            graph.add_to_collection(keys.MODEL_VARIABLES, variable)
        return definition, variable

    # -- the calls --------------------------------------------------------------------------

    def apply(self, signature: Signature, inputs: dict[str, Any], name: str) -> dict[str, Any]:
        """Imports the computation of ``signature`` under a fresh scope based on ``name``."""
        graph = v1().get_default_graph()
        scope = graph.unique_name(name, mark_as_used=False)
        feeds = {k: _in_graph(graph, t) for k, t in self._state.items()}
        for key, info in signature.inputs.items():
            feeds.update(
                {k: _in_graph(graph, t) for k, t in input_feeds(info, inputs[key]).items()}
            )
        fed = {
            name.split(":", 1)[0] for info in signature.inputs.values() for name in info.components
        }
        meta_graph = self._apply_meta_graph(feeds, fed, _in_control_flow(graph))
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

    def _runs_with(self, op: str, fed: set[str]) -> bool:
        """Whether update op ``op`` depends on the ``fed`` inputs and on no other placeholder."""
        unfed = self._placeholders - fed
        return any(op in self._reach[n] for n in fed) and not any(
            op in self._reach[n] for n in unfed
        )

    def _apply_meta_graph(self, feeds: dict[str, Any], fed: set[str], nested: bool) -> Any:
        keys = v1().GraphKeys
        keep = [keys.COND_CONTEXT, keys.WHILE_CONTEXT]
        if not nested:  # tensors inside a cond / loop body cannot be fetched from outside
            keep.append(keys.ASSET_FILEPATHS)
        if self._trainable:
            keep.append(keys.UPDATE_OPS)
        meta_graph = _copy(self._meta_graph)
        keep_collections(meta_graph, keep)
        if keys.UPDATE_OPS in meta_graph.collection_def:
            select_update_ops(meta_graph, lambda op: self._runs_with(op, fed))
        state_nodes = {name.split(":")[0] for name in self._state}
        removed = {
            node.name
            for node in meta_graph.graph_def.node
            if node.name in state_nodes or (node.op in _PLACEHOLDERS and f"{node.name}:0" in feeds)
        }
        remove_nodes(meta_graph.graph_def, removed)
        return meta_graph


def _in_control_flow(graph: Any) -> bool:
    """Whether ops added to ``graph`` now land in a tf.cond / tf.while_loop body."""
    if getattr(graph, "outer_graph", None) is not None:
        return True  # TF2 control flow: the body is a function graph
    return graph._get_control_flow_context() is not None  # TF1 control flow


def _in_graph(graph: Any, tensor: Any) -> Any:
    """``tensor`` as seen from ``graph``: captured when ``graph`` is a control-flow body
    (a ``FuncGraph`` inside the module's graph), as is."""
    if tensor.graph is graph or not hasattr(graph, "capture"):
        return tensor
    return graph.capture(tensor)


def _variable_map(created: list[tuple[Any, Any]]) -> dict[str, Any]:
    """Module variable name -> variable; a partitioned variable -> its parts, in order."""
    found: dict[str, Any] = {}
    parts: dict[str, list[tuple[int, Any]]] = {}
    for definition, variable in created:
        sliced = definition.save_slice_info_def
        if sliced.full_name:
            offset = sliced.var_offset[0] if sliced.var_offset else 0
            parts.setdefault(sliced.full_name, []).append((offset, variable))
        else:
            found[definition.variable_name.split(":", 1)[0]] = variable
    for name, pieces in parts.items():
        found[name] = [variable for _, variable in sorted(pieces, key=lambda p: p[0])]
    return found


def _checkpoint_entry(definition: Any, variable: Any) -> tuple[str, str, Any]:
    sliced = definition.save_slice_info_def
    if sliced.full_name:
        return sliced.full_name, slice_spec(definition), variable
    return definition.variable_name.split(":", 1)[0], "", variable
