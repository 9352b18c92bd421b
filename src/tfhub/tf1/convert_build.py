"""The TF2 object ``tfhub convert`` saves for a TF1 Hub module: a Reusable SavedModel root
built on a :class:`~tfhub.tf1.reusable.ReusableHubModule` (its variables, and functions pruned
from its imported graph variants), plus serving signatures and lookup tables that initialise
themselves from the SavedModel's own copy of the module's assets when it is loaded.

What the root holds (see :func:`build_root`):

* ``__call__(inputs, training=False)``: the ``default`` signature. ``inputs`` is the value of
  a one-input signature (or a dict, as always with several inputs); it returns the
  ``default`` output, or a dict of all outputs if there is no ``default`` output.
  ``training=True`` runs the training variant and its update ops.
* ``signature_functions[name](inputs, training=False)``: every signature, returning a dict of
  all its outputs (sparse and ragged values as such); also the attribute ``<name>`` when the
  name is an identifier that does not clash with the others (so
  ``keras.layers.TFSMLayer(path, call_endpoint=name)`` finds it), and ``default`` also as
  ``serve`` (the endpoint ``TFSMLayer(path)`` calls by default).
* ``variables``, ``trainable_variables``, ``regularization_losses`` (no-argument functions),
  ``assets`` and ``table_initializers`` (the tables' ``TrackableResource`` s).
* serving signatures (from :func:`serving_signatures`): one per signature, same name, and
  ``serving_default`` for ``default``; flat tensors in and out, a sparse ``x`` as
  ``x_indices``/``x_values``/``x_dense_shape``, other composites as ``x_component_<i>``
  (the names ``tf.saved_model.load`` gives a TF1 signature's inputs).

Example:
    >>> obj = load_reusable("/path/to/tf1_module")  # doctest: +SKIP
    >>> root = build_root(obj, spec)  # doctest: +SKIP
    >>> tf.saved_model.save(root, "/out", signatures=serving_signatures(obj))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tfhub.core.hub_module import GraphVariant, Signature, TensorSpecInfo, asset_path
from tfhub.errors import ModelFormatError
from tfhub.tf1._tf import tf
from tfhub.tf1.meta_graph import remove_nodes
from tfhub.tf1.reusable import _TABLE_OPS, ReusableHubModule
from tfhub.tf1.spec import ModuleSpec
from tfhub.tf1.tensor_info import type_spec_of

SERVING_DEFAULT = "serving_default"
# Set on a loaded object by tf.saved_model.load.
_LOADER_ATTRIBUTES = frozenset(
    {"signatures", "graph_debug_info", "tensorflow_version", "tensorflow_git_version"}
)


# -- flat names of signature tensors --------------------------------------------------------


def flat_names(name: str, info: TensorSpecInfo) -> list[str]:
    """The names of the tensors that stand for one signature input or output in a serving
    signature.

    >>> from tfhub.core.hub_module import TensorSpecInfo
    >>> flat_names("words", TensorSpecInfo("sparse", "string", (None, None), ("i", "v", "s")))
    ['words_indices', 'words_values', 'words_dense_shape']
    """
    if info.kind == "dense":
        return [name]
    if info.kind == "sparse":
        return [f"{name}_indices", f"{name}_values", f"{name}_dense_shape"]
    return [f"{name}_component_{i}" for i in range(len(info.components))]


def flatten(infos: Mapping[str, TensorSpecInfo], values: Mapping[str, Any]) -> dict[str, Any]:
    """Signature values (dense, sparse, ragged) as flat named tensors."""
    flat: dict[str, Any] = {}
    for name in sorted(infos):
        parts = tf().nest.flatten(values[name], expand_composites=True)
        flat.update(zip(flat_names(name, infos[name]), parts, strict=True))
    return flat


def unflatten(infos: Mapping[str, TensorSpecInfo], flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten`."""
    values = {}
    for name, info in infos.items():
        parts = [flat[key] for key in flat_names(name, info)]
        values[name] = (
            parts[0]
            if info.kind == "dense"
            else tf().nest.pack_sequence_as(type_spec_of(info), parts, expand_composites=True)
        )
    return values


def _flat_specs(infos: Mapping[str, TensorSpecInfo]) -> list[Any]:
    specs = []
    for name in sorted(infos):
        parts = tf().nest.flatten(type_spec_of(infos[name]), expand_composites=True)
        for key, part in zip(flat_names(name, infos[name]), parts, strict=True):
            specs.append(tf().TensorSpec(part.shape, part.dtype, name=key))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ModelFormatError(
            f"The flat input names of a signature collide: {', '.join(sorted(names))}."
        )
    return specs


# -- functions ------------------------------------------------------------------------------


def _input_structures(signature: Signature) -> list[Any]:
    """What callers may pass as ``inputs``: the value of a one-input signature or a dict."""
    specs = {name: type_spec_of(info) for name, info in signature.inputs.items()}
    if not specs:
        return [None]
    return [next(iter(specs.values())), specs] if len(specs) == 1 else [specs]


def _traced(function: Any, signature: Signature, trainings: Iterable[bool]) -> Any:
    for inputs in _input_structures(signature):
        function.get_concrete_function(inputs)
        for training in trainings:
            function.get_concrete_function(inputs, training=training)
    return function


def _call_function(obj: ReusableHubModule, signature: Signature, default_only: bool) -> Any:
    name = signature.name

    def call(inputs: Any = None, training: bool = False) -> Any:
        outputs = obj(inputs, training=training, signature=name, as_dict=True)
        return outputs["default"] if default_only else outputs

    call.__name__ = "call_default" if default_only else f"call_{_safe(name)}"
    return tf().function(call, autograph=False)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _trainings(obj: ReusableHubModule, name: str) -> list[bool]:
    train_has_it = name in obj.variant_graph(True).variant.signatures
    return [False, True] if train_has_it else [False]


def _serving_function(obj: ReusableHubModule, signature: Signature) -> Any:
    specs = _flat_specs(signature.inputs)
    names = [spec.name for spec in specs]

    def serve(*args: Any) -> dict[str, Any]:
        inputs = unflatten(signature.inputs, dict(zip(names, args, strict=True)))
        outputs = obj(inputs, training=False, signature=signature.name, as_dict=True)
        return flatten(signature.outputs, outputs)

    serve.__name__ = f"serve_{_safe(signature.name)}"
    function = tf().function(serve, input_signature=specs, autograph=False)
    return function.get_concrete_function()


def serving_signatures(obj: ReusableHubModule) -> dict[str, Any]:
    """Serving signature key -> concrete function: each signature of the inference variant
    under its own name, and ``default`` also as ``serving_default``."""
    signatures = obj.variant_graph(False).variant.signatures
    functions = {name: _serving_function(obj, sig) for name, sig in sorted(signatures.items())}
    if "default" in functions and SERVING_DEFAULT not in functions:
        functions[SERVING_DEFAULT] = functions["default"]
    return functions


def _loss_function(loss: Callable[[], Any]) -> Any:
    def regularization_loss() -> Any:
        return loss()

    return tf().function(regularization_loss, input_signature=[], autograph=False)


# -- lookup tables --------------------------------------------------------------------------


class _TableInitializer(tf().saved_model.experimental.TrackableResource):  # type: ignore[misc]
    """One lookup table of a graph variant: created by its own node (shared with the
    signature functions by its shared name) and filled by the variant's initializer op,
    reading the SavedModel's copy of the assets; TensorFlow runs both when loading."""

    def __init__(self, create: Any, initialize: Any, assets: list[Any]) -> None:
        self._create = create
        self._init = initialize
        self._asset_list = assets
        super().__init__()

    def _create_resource(self) -> Any:
        return self._create()

    def _initialize(self) -> Any:
        return self._init(*[asset.asset_path for asset in self._asset_list])


def _table_creator(graph_def: Any, table: Any) -> Any:
    """The node ``table`` (a ``NodeDef`` of ``graph_def``) as a function creating it."""
    single = type(graph_def)()
    node = single.node.add()
    node.CopyFrom(table)
    if "_class" in node.attr:
        del node.attr["_class"]

    def create() -> Any:
        imported = tf().compat.v1.import_graph_def(
            single, return_elements=[f"{table.name}:0"], name=""
        )
        return imported[0]

    return tf().compat.v1.wrap_function(create, [])


def _ancestors(graph_def: Any, nodes: Mapping[str, Any], op: str) -> Any:
    """A ``GraphDef`` with only ``op`` and the nodes of ``graph_def`` it depends on
    (``nodes``: the nodes by name), and the function library they may call."""
    keep, stack = {op}, [op]
    while stack:
        for name in nodes[stack.pop()].input:
            source = name.lstrip("^").split(":", 1)[0]
            if source not in keep and source in nodes:
                keep.add(source)
                stack.append(source)
    sub = type(graph_def)()
    sub.versions.CopyFrom(graph_def.versions)
    sub.library.CopyFrom(graph_def.library)
    sub.node.extend(node for node in graph_def.node if node.name in keep)
    return sub


def _table_initializer_function(sub: Any, op: str, asset_tensors: list[str]) -> Any:
    """The initializer op ``op`` (with its ancestors ``sub``, changed here) as a function of
    the asset paths it reads."""
    remove_nodes(sub, {name.split(":", 1)[0] for name in asset_tensors})

    def initialize(*paths: Any) -> None:
        input_map = dict(zip(asset_tensors, paths, strict=True))
        tf().compat.v1.import_graph_def(sub, input_map=input_map, return_elements=[op], name="")

    initialize.__name__ = f"initialize_{_safe(op)}"
    specs = [tf().TensorSpec([], tf().string)] * len(asset_tensors)
    return tf().function(initialize, input_signature=specs, autograph=False)


def _table_initializers(
    obj: ReusableHubModule, assets: Mapping[str, Any]
) -> list[_TableInitializer]:
    resources = []
    graphs = {id(g): g for g in (obj.variant_graph(False), obj.variant_graph(True))}
    for graph in graphs.values():
        nodes = {node.name: node for node in graph.graph_def.node}
        tensors = {a.tensor_name: a.filename for a in graph.variant.assets}
        for op in graph.table_initializers():
            table = nodes[op].input[0].split(":", 1)[0] if nodes[op].input else ""
            if nodes.get(table) is None or nodes[table].op not in _TABLE_OPS:
                raise ModelFormatError(
                    f"Table initializer {op!r} does not initialize a lookup table created in "
                    "the graph; tfhub cannot convert this module."
                )
            sub = _ancestors(graph.graph_def, nodes, op)
            inside = {node.name for node in sub.node}
            used = sorted(t for t in tensors if t.split(":", 1)[0] in inside)
            resources.append(
                _TableInitializer(
                    _table_creator(graph.graph_def, nodes[table]),
                    _table_initializer_function(sub, op, used),
                    [assets[tensors[t]] for t in used],
                )
            )
    return resources


def _assets(spec: ModuleSpec, variants: Iterable[GraphVariant]) -> dict[str, Any]:
    """Asset file name -> ``tf.saved_model.Asset`` of the module's copy (saving copies it)."""
    if spec.module_dir is None:
        raise ModelFormatError("Converting needs a module read from a directory.")
    found: dict[str, Any] = {}
    for variant in variants:
        for asset in variant.assets:
            if asset.filename not in found:
                path = asset_path(spec.module_dir, asset.filename)
                found[asset.filename] = tf().saved_model.Asset(path)
    return found


# -- the root -------------------------------------------------------------------------------


def build_root(obj: ReusableHubModule, spec: ModuleSpec) -> Any:
    """The object to save: a ``tf.train.Checkpoint`` with the Reusable SavedModel attributes
    (see the module docstring), every function traced for the inputs callers may pass.

    Raises:
        ModelFormatError: the module has a lookup table tfhub cannot rebuild, or colliding
            flat input names.
    """
    root = tf().train.Checkpoint()
    root.variables = list(obj.variables)
    root.trainable_variables = list(obj.trainable_variables)
    root.regularization_losses = [_loss_function(f) for f in obj.regularization_losses]
    variants = spec.info.variants
    assets = _assets(spec, variants)
    root.assets = [assets[name] for name in sorted(assets)]
    root.table_initializers = _table_initializers(obj, assets)
    signatures = obj.variant_graph(False).variant.signatures
    root.signature_functions = {
        name: _traced(_call_function(obj, sig, False), sig, _trainings(obj, name))
        for name, sig in sorted(signatures.items())
    }
    functions = dict(root.signature_functions)
    if "default" in functions and "serve" not in functions:
        functions["serve"] = functions["default"]
    for name, function in functions.items():
        free = not hasattr(root, name) and name not in _LOADER_ATTRIBUTES
        if name.isidentifier() and not name.startswith("_") and free:
            setattr(root, name, function)
    if "default" in signatures:
        default = signatures["default"]
        has_default = "default" in default.outputs
        call = _call_function(obj, default, default_only=has_default)
        root.__call__ = _traced(call, default, _trainings(obj, "default"))
    return root
