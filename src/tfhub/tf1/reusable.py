"""Fine-tuning TF1 Hub modules in TF2: :func:`load_reusable` turns a module into a
``tf.Module`` that follows the Reusable SavedModel conventions.

The returned :class:`ReusableHubModule` owns ONE set of ``tf.Variable`` s (initialised from the
module's checkpoint) and runs each graph variant over them: ``obj(x, training=True)`` runs the
module's ``train`` variant (when it has one, else the inference variant) with its update ops
(batch-norm moving averages), ``obj(x)`` the inference variant. Each variant's ``MetaGraphDef``
is imported once into a ``tf.compat.v1.wrap_function`` graph with its variable handles mapped
onto the shared variables; every signature is a function pruned out of it (the same public
route ``tf.saved_model.load`` takes for TF1 SavedModels), so gradients reach the shared
variables and both variants see every update.

Example:
    >>> obj = load_reusable("/path/to/tf1_module")  # doctest: +SKIP
    >>> with tf.GradientTape() as tape:  # doctest: +SKIP
    ...     loss = tf.reduce_sum(obj(x, training=True)) + tf.add_n(
    ...         [f() for f in obj.regularization_losses])
    >>> grads = tape.gradient(loss, obj.trainable_variables)  # doctest: +SKIP
    >>> layer = tfhub.keras3.KerasLayer(obj, trainable=True)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import numpy as np
import tensorflow as tf  # type: ignore[import-untyped]

from tfhub.core.hub_module import GraphVariant, Signature, format_tags
from tfhub.errors import ModelFormatError, ModuleCallError
from tfhub.tf1._tf import proto
from tfhub.tf1.export import save_checkpoint, slice_spec, write_module
from tfhub.tf1.meta_graph import descendants, prefix_shared_names
from tfhub.tf1.ref_variables import rewrite_reference_variables
from tfhub.tf1.spec import ModuleSpec, as_module_spec
from tfhub.tf1.tensor_info import build_output, input_feeds, named_inputs, type_spec_of

TRAIN_TAGS = frozenset({"train"})
_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")
_RESOURCE_VARIABLE_OPS = ("VarHandleOp",)
_TABLE_OPS = (
    "HashTableV2",
    "MutableHashTableV2",
    "MutableHashTableOfTensorsV2",
    "MutableDenseHashTableV2",
)
_counter = itertools.count()
_F = TypeVar("_F", bound=Callable[..., Any])


def _not_converted(func: _F) -> _F:
    """Keeps AutoGraph out of plain Python that builds or runs the module's functions."""
    return cast(_F, tf.autograph.experimental.do_not_convert(func))


def _node(name: str) -> str:
    return name.lstrip("^").split(":", 1)[0]


def _variable_defs(meta_graph: Any, key: str) -> list[Any]:
    collection = meta_graph.collection_def
    if key not in collection:
        return []
    parse = proto("framework.variable_pb2").VariableDef.FromString
    return [parse(data) for data in collection[key].bytes_list.value]


class _VariantGraph:
    """One graph variant imported into a wrapped function over the shared variables, and
    the functions pruned out of it (per signature and mode, per regularization loss)."""

    def __init__(
        self,
        meta_graph: Any,
        variant: GraphVariant,
        variables: Mapping[str, tf.Variable],
        scope: str,
    ) -> None:
        self.variant = variant
        graph_def = type(meta_graph.graph_def)()
        graph_def.CopyFrom(meta_graph.graph_def)
        _name_tables(graph_def)
        prefix_shared_names(graph_def, scope)  # tables: one resource per object and variant
        definitions = _variable_defs(meta_graph, tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
        rewritten = rewrite_reference_variables(
            graph_def, [_node(d.variable_name) for d in definitions]
        )
        nodes = {node.name: node for node in graph_def.node}
        handles: dict[str, tf.Variable] = {}
        for definition in definitions:
            node = nodes.get(_node(definition.variable_name))
            if node is None or (
                node.op not in _RESOURCE_VARIABLE_OPS and node.name not in rewritten
            ):
                raise ModelFormatError(
                    f"Variable {definition.variable_name!r} of graph variant "
                    f"{format_tags(variant.tags)} is not a variable node of the graph "
                    f"({node.op if node else 'missing'}); the module is damaged."
                )
            handles[f"{node.name}:0"] = variables[_variable_key(definition)]
        self._meta_graph = meta_graph
        self._placeholders = {
            n.name for n in graph_def.node if n.op in _PLACEHOLDERS and n.name not in rewritten
        }
        self._graph_def = graph_def
        self._handles = handles

        own_scope = _free_scope(graph_def, "tfhub_variables")

        def import_graph() -> None:
            # Reading each variable once records it as used by the graph, so GradientTape
            # watches it when a pruned function runs; the handles feed the imported graph.
            # These ops go in a scope of their own: named like a node of the module (e.g.
            # "Identity"), they would take its name and the module's node would be renamed.
            input_map = {}
            with tf.name_scope(f"{own_scope}/"):
                for name, variable in handles.items():
                    variable.value()
                    input_map[name] = tf.identity(variable.handle)
            tf.compat.v1.import_graph_def(graph_def, input_map=input_map, name="")

        self.wrapped = tf.compat.v1.wrap_function(import_graph, [])
        self.graph = self.wrapped.graph
        self._calls: dict[tuple[str, bool], Any] = {}
        self._initialize_tables()
        self.regularization_losses = [
            self.wrapped.prune([], self.graph.get_tensor_by_name(name))
            for name in variant.regularization_losses
        ]

    @property
    def graph_def(self) -> Any:
        """The imported ``GraphDef``: tables named and their shared names made unique."""
        return self._graph_def

    def table_initializers(self) -> list[str]:
        """The names of the variant's table initializer ops."""
        collection = self._meta_graph.collection_def
        key = tf.compat.v1.GraphKeys.TABLE_INITIALIZERS
        return [_node(n) for n in collection[key].node_list.value] if key in collection else []

    def _initialize_tables(self) -> None:
        ops = [self.graph.get_operation_by_name(name) for name in self.table_initializers()]
        if ops:
            self.wrapped.prune([], ops)()

    def _update_ops(self, fed: set[str]) -> list[Any]:
        """The variant's update ops that depend on the ``fed`` placeholders and on no other
        placeholder (so one signature's call never needs another signature's inputs)."""
        names = [_node(n) for n in self.variant.update_ops]
        if not names:
            return []
        reach = descendants(self._graph_def, self._placeholders)
        unfed = self._placeholders - fed
        return [
            self.graph.get_operation_by_name(op)
            for op in names
            if any(op in reach[p] for p in fed) and not any(op in reach[p] for p in unfed)
        ]

    def function(self, signature: Signature, with_updates: bool) -> Any:
        """The pruned function of ``signature``: flat component inputs -> flat outputs."""
        key = (signature.name, with_updates)
        if key not in self._calls:
            feeds = [
                self.graph.get_tensor_by_name(component)
                for name in sorted(signature.inputs)
                for component in signature.inputs[name].components
            ]
            outputs = {
                name: build_output(info, self.graph.get_tensor_by_name)
                for name, info in signature.outputs.items()
            }
            fed = {_node(t.name) for t in feeds}
            updates = self._update_ops(fed) if with_updates else []
            self._calls[key] = self.wrapped.prune(feeds, (outputs, updates))
        return self._calls[key]

    def call(self, signature: Signature, inputs: dict[str, Any], with_updates: bool) -> Any:
        flat: list[Any] = []
        for name in sorted(signature.inputs):
            flat.extend(input_feeds(signature.inputs[name], inputs[name]).values())
        outputs, _ = self.function(signature, with_updates)(*flat)
        return outputs


def _free_scope(graph_def: Any, base: str) -> str:
    """A name scope no node of ``graph_def`` is in (TensorFlow compares names ignoring case).

    >>> graph_def = proto("framework.graph_pb2").GraphDef()
    >>> graph_def.node.add(name="tfhub_variables/x").op = "NoOp"
    >>> _free_scope(graph_def, "tfhub_variables")
    'tfhub_variables_1'
    """
    taken = {node.name.split("/", 1)[0].lower() for node in graph_def.node}
    name, count = base, 0
    while name.lower() in taken:
        count += 1
        name = f"{base}_{count}"
    return name


def _name_tables(graph_def: Any) -> None:
    """Gives every lookup table a ``shared_name`` (its node name if it has none) and turns on
    ``use_node_name_sharing``: the functions pruned from the graph (the table initializer,
    each signature) then reach one table, and ``tf.saved_model.load`` keeps them sharing it
    (it gives ``HashTableV2`` nodes without that flag a unique name per function)."""
    for node in graph_def.node:
        if node.op in _TABLE_OPS:
            if not node.attr["shared_name"].s:
                node.attr["shared_name"].s = node.name.encode("utf-8")
            node.attr["use_node_name_sharing"].b = True


def _variable_key(definition: Any) -> str:
    """The name of a variable in the module (a partition: its part's own node name)."""
    return str(definition.variable_name).split(":", 1)[0]


def _initial_values(spec: ModuleSpec, definitions: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each variable's value in the module's checkpoint (the part of a partitioned one)."""
    if spec.checkpoint_path is None:
        raise ModelFormatError(
            "load_reusable() needs a module with a checkpoint (an exported module, or a "
            "ModuleSpec from load_module_spec); export the ModuleSpec first."
        )
    reader = tf.train.load_checkpoint(spec.checkpoint_path)
    values = {}
    for key, definition in definitions.items():
        sliced = definition.save_slice_info_def
        if sliced.full_name:
            full = reader.get_tensor(sliced.full_name)
            index = tuple(
                slice(o, o + n) for o, n in zip(sliced.var_offset, sliced.var_shape, strict=True)
            )
            values[key] = np.asarray(full[index])
        else:
            values[key] = np.asarray(reader.get_tensor(key))
    return values


class ReusableHubModule(tf.Module):  # type: ignore[misc]
    """A TF1 Hub module as a Reusable SavedModel-style object (see :func:`load_reusable`).

    Attributes:
        variables: every variable of the module, shared by all graph variants.
        trainable_variables: those the module lists as trainable.
        regularization_losses: no-argument callables returning the regularization losses of
            the graph variant used for training.
        signatures: name -> callable of the inference variant taking the signature's inputs
            by keyword (sparse inputs as ``tf.SparseTensor``) and returning a dict.
    """

    _is_reusable_hub_module = True  # KerasLayer: call it with signature= and training=

    def __init__(
        self,
        spec: ModuleSpec,
        train_tags: Iterable[str] | None = None,
        name: str | None = None,
        inference_tags: Iterable[str] | None = None,
    ) -> None:
        super().__init__(name=name)
        self._spec = spec
        inference = spec.variant(inference_tags).tags
        tags = spec.get_tags()
        if train_tags is None:
            train = TRAIN_TAGS if TRAIN_TAGS in tags else inference
        else:
            train = spec.variant(train_tags).tags
        self.inference_tags = inference
        self.train_tags = train
        definitions: dict[str, Any] = {}
        trainable: set[str] = set()
        for variant_tags in {inference, train}:
            meta_graph = spec.meta_graph(variant_tags)
            keys = tf.compat.v1.GraphKeys
            for definition in _variable_defs(meta_graph, keys.GLOBAL_VARIABLES):
                definitions.setdefault(_variable_key(definition), definition)
            trainable |= {
                _variable_key(d) for d in _variable_defs(meta_graph, keys.TRAINABLE_VARIABLES)
            }
        self._definitions = definitions
        values = _initial_values(spec, definitions)
        with tf.init_scope():
            self._module_variables = {
                key: tf.Variable(values[key], name=key, trainable=key in trainable)
                for key in definitions
            }
        scope = f"tfhub_reusable_{next(_counter)}"
        self._graphs: dict[frozenset[str], _VariantGraph] = {}
        for variant_tags in dict.fromkeys([inference, train]):
            suffix = "_".join(sorted(variant_tags)) or "inference"
            self._graphs[variant_tags] = _VariantGraph(
                spec.meta_graph(variant_tags),
                spec.variant(variant_tags),
                self._module_variables,
                f"{scope}_{suffix}",
            )
        self._inference = self._graphs[inference]
        self._train = self._graphs[train]
        self.regularization_losses: list[Callable[[], Any]] = list(
            self._train.regularization_losses
        )
        self.signatures: dict[str, Callable[..., Any]] = {
            name: _SignatureFunction(self, name) for name in self._inference.variant.signatures
        }

    def variant_graph(self, training: bool) -> _VariantGraph:
        """The imported graph variant that runs for ``training`` (for ``tfhub convert``)."""
        return self._train if training else self._inference

    @property
    def variable_map(self) -> dict[str, tf.Variable]:
        """Module variable name -> shared variable (like ``hub.Module.variable_map``)."""
        return dict(self._module_variables)

    def export(self, path: str | os.PathLike[str]) -> None:
        """Exports the module (every graph variant) with the current variable values, e.g.
        after fine-tuning: a TF1 Hub module that ``hub.Module``, ``tfhub.load`` and the
        original library load.

        Raises:
            ExportError: ``path`` exists and is not empty, or writing failed.
        """
        meta_graphs = []
        for tags in self._spec.get_tags():
            meta_graph = tf.compat.v1.MetaGraphDef()
            meta_graph.CopyFrom(self._spec.meta_graph(tags))
            meta_graphs.append(meta_graph)

        def save(prefix: str) -> None:
            entries = []
            for key, definition in sorted(self._definitions.items()):
                variable = self._module_variables[key]
                sliced = definition.save_slice_info_def
                name = sliced.full_name or key
                entries.append((name, slice_spec(definition), variable.numpy(), variable.dtype))
            if entries:
                save_checkpoint(prefix, entries)

        write_module(os.fspath(path), meta_graphs, save)

    @_not_converted
    def __call__(
        self,
        inputs: Any = None,
        training: Any = False,
        signature: str = "default",
        as_dict: bool = False,
    ) -> Any:
        """Runs ``signature`` on ``inputs`` (a value for a one-input signature, or a dict):
        with ``training=True`` in the training variant with its update ops, else in the
        inference variant. Returns the ``default`` output, or all outputs with ``as_dict``.

        Raises:
            ModuleCallError: unknown signature, inputs that do not fit, or no ``default``
                output without ``as_dict``.
        """
        if tf.is_tensor(training):
            return tf.cond(
                tf.cast(training, tf.bool),
                lambda: self(inputs, True, signature, as_dict),
                lambda: self(inputs, False, signature, as_dict),
            )
        graph = self._train if training else self._inference
        try:
            sig = graph.variant.signature(signature)
        except Exception as e:
            raise ModuleCallError(str(e)) from e
        given = named_inputs(inputs, sig.inputs, signature)
        converted = {key: _convert(value, sig.inputs[key]) for key, value in given.items()}
        outputs = graph.call(sig, converted, with_updates=bool(training))
        if as_dict:
            return dict(outputs)
        if "default" not in outputs:
            raise ModuleCallError(
                f"Signature {signature!r} has no 'default' output; pass as_dict=True "
                f"(outputs: {', '.join(sorted(outputs))})."
            )
        return outputs["default"]


class _SignatureFunction:
    """``obj.signatures[name]``: the inference variant's signature, keyword inputs, a dict."""

    def __init__(self, owner: ReusableHubModule, name: str) -> None:
        self._owner = owner
        self.name = name

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._owner(inputs, False, self.name, as_dict=True)
        return result


def _convert(value: Any, info: Any) -> Any:
    spec = type_spec_of(info)
    if isinstance(value, tf.compat.v1.SparseTensorValue):
        return tf.SparseTensor.from_value(value)
    if isinstance(value, tf.SparseTensor | tf.RaggedTensor):
        return value
    if isinstance(spec, tf.RaggedTensorSpec):
        return tf.ragged.constant(value, spec.dtype, ragged_rank=spec.ragged_rank)
    return tf.convert_to_tensor(value, dtype=spec.dtype)


def load_reusable(
    handle: ModuleSpec | str | os.PathLike[str],
    *,
    train_tags: Iterable[str] | None = None,
    name: str | None = None,
    inference_tags: Iterable[str] | None = None,
) -> ReusableHubModule:
    """Loads a TF1 Hub module (handle, path or ``ModuleSpec`` with a checkpoint) in TF2 as a
    fine-tunable :class:`ReusableHubModule`.

    Args:
        handle: anything :func:`tfhub.load_module_spec` accepts, or a loaded ``ModuleSpec``.
        train_tags: the graph variant for ``training=True`` calls; default ``{"train"}`` if
            the module has it, else the inference variant.
        name: the ``tf.Module`` name.
        inference_tags: the graph variant for inference calls (default: the empty tag set).

    Raises:
        ModelFormatError: not a TF1 Hub module, no checkpoint, or a reference variable
            written by an op with no resource form (e.g. ScatterUpdate).
        ModuleLookupError: no graph variant with ``train_tags``.
    """
    return ReusableHubModule(
        as_module_spec(handle), train_tags=train_tags, name=name, inference_tags=inference_tags
    )
