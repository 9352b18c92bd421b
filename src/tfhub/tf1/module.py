"""``Module``: a TF1 Hub module instantiated in the current graph (TF1 graph mode, or a
``tf.Graph`` in TF2)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tfhub.errors import GraphModeError, ModuleCallError
from tfhub.tf1._tf import require_graph_mode, tf, v1
from tfhub.tf1.export import session_saver, write_module
from tfhub.tf1.instance import Instance
from tfhub.tf1.spec import ModuleSpec, Tags, as_module_spec
from tfhub.tf1.tensor_info import ParsedTensorInfo, convert_inputs


class Module:
    """A TF1 Hub module in the current graph, under its own variable and name scope.

    Creating it adds the module's state: variables (in GLOBAL_VARIABLES; with
    ``trainable=True`` also in TRAINABLE_VARIABLES, and its regularization losses in
    REGULARIZATION_LOSSES), initialised from the module's checkpoint; table initializers
    (TABLE_INITIALIZERS) and asset paths (ASSET_FILEPATHS) pointing into the module's
    ``assets/``. Each call adds the computation of one signature; with ``trainable=True``
    the graph variant's update ops (e.g. batch-norm moving averages) go to UPDATE_OPS.

    Args:
        spec: a :class:`ModuleSpec` or a handle for :func:`load_module_spec`.
        trainable: whether the module's variables are trained (see above).
        name: the scope to create the module in, made unique (``module``, ``module_1``...).
        tags: the graph variant (e.g. ``{"train"}``); None is the inference variant.

    Raises:
        GraphModeError: TensorFlow is executing eagerly (use ``tfhub.load`` or
            ``tfhub.KerasLayer`` in TF2).
        ModuleLookupError: the module has no graph variant with these tags.

    Example:
        >>> m = tfhub.Module("/path/to/module", trainable=True, tags={"train"})  # doctest: +SKIP
        >>> embeddings = m(["hello world"])  # doctest: +SKIP
        >>> outputs = m({"x": x, "lang": lang}, signature="encode", as_dict=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: ModuleSpec | str | os.PathLike[str],
        trainable: bool = False,
        name: str = "module",
        tags: Tags = None,
    ) -> None:
        require_graph_mode("tfhub.Module")
        self._graph = v1().get_default_graph()
        if getattr(self._graph, "outer_graph", None) is not None:
            raise GraphModeError(
                "tfhub.Module cannot be created inside a tf.function, tf.cond or tf.while_loop "
                "body (its variables must live in the outer graph). Create it outside and call "
                "it inside."
            )
        self._spec = as_module_spec(spec)
        self._trainable = trainable
        self._tags = self._spec.variant(tags).tags
        scope = self._graph.unique_name(name, mark_as_used=False)
        self._name = scope.rsplit("/", 1)[-1]
        self._instance = Instance(
            self._spec.meta_graph(self._tags),
            self._spec.variant(self._tags),
            self._spec.checkpoint_path,
            trainable,
            scope,
        )

    def _check_graph(self, what: str) -> None:
        require_graph_mode(what)
        graph = v1().get_default_graph()
        while graph is not self._graph and getattr(graph, "outer_graph", None) is not None:
            graph = graph.outer_graph  # a tf.cond / tf.while_loop body (TF2 control flow)
        if graph is not self._graph:
            raise GraphModeError(
                f"{what}: the module was created in another graph; create a Module in each "
                "graph that uses it."
            )

    def __call__(
        self,
        inputs: Any = None,
        _sentinel: None = None,
        signature: str | None = None,
        as_dict: bool | None = None,
    ) -> Any:
        """Adds the computation of a signature (default ``"default"``) to the graph.

        Args:
            inputs: a dict of input name to value (tensor, sparse or ragged tensor, or
                anything ``tf.convert_to_tensor`` takes); a single value if the signature
                has one input; None if it has none.
            signature: the signature name.
            as_dict: return every output as a dict, instead of the ``default`` one.

        Raises:
            ModuleCallError: inputs do not match, or no ``default`` output without
                ``as_dict=True``.
            ModuleLookupError: no such signature.
        """
        if _sentinel is not None:
            raise ModuleCallError("Pass signature= and as_dict= by keyword.")
        self._check_graph("Module.__call__")
        variant = self._spec.variant(self._tags)
        found = variant.signature(signature)
        values = convert_inputs(inputs, self.get_input_info_dict(found.name), found.name)
        name = f"{self._name}_apply_{found.name.replace(':', '_')}"
        outputs = self._instance.apply(found, values, name)
        if as_dict:
            return outputs
        if "default" not in outputs:
            raise ModuleCallError(
                f"Signature {found.name!r} has no output named 'default' (outputs: "
                f"{', '.join(sorted(outputs))}); call with as_dict=True."
            )
        return outputs["default"]

    def get_signature_names(self) -> list[str]:
        return self._spec.get_signature_names(tags=self._tags)

    def get_input_info_dict(self, signature: str | None = None) -> dict[str, ParsedTensorInfo]:
        return self._spec.get_input_info_dict(signature=signature, tags=self._tags)

    def get_output_info_dict(self, signature: str | None = None) -> dict[str, ParsedTensorInfo]:
        return self._spec.get_output_info_dict(signature=signature, tags=self._tags)

    def get_attached_message(self, key: str, message_type: Any, required: bool = False) -> Any:
        return self._spec.get_attached_message(
            key, message_type, tags=self._tags, required=required
        )

    def export(self, path: str | os.PathLike[str], session: Any) -> None:
        """Exports the module's definition (every graph variant of its spec) with the
        variable values of ``session``.

        Raises:
            GraphModeError: the default graph or the session's graph is not the module's.
        """
        self._check_graph("Module.export")
        if session.graph is not self._graph:
            raise GraphModeError("Module.export: the session runs another graph than the module's.")
        meta_graphs = []
        for tags in self._spec.get_tags():
            meta_graph = v1().MetaGraphDef()
            meta_graph.CopyFrom(self._spec.meta_graph(tags))
            meta_graphs.append(meta_graph)
        saver = session_saver(self._instance.checkpoint_entries, session)
        write_module(os.fspath(path), meta_graphs, saver)

    @property
    def variable_map(self) -> dict[str, Any]:
        """Variable name in the module -> ``tf.Variable`` (a list of them if partitioned);
        the same keys wherever the module is instantiated, so it can be an ``assignment_map``
        of ``tf.compat.v1.train.init_from_checkpoint``."""
        return dict(self._instance.variable_map)

    @property
    def variables(self) -> list[Any]:
        """Every variable of the module (sorted by name)."""
        found: list[Any] = []
        for _, value in sorted(self._instance.variable_map.items()):
            found += value if isinstance(value, list) else [value]
        return found

    def __repr__(self) -> str:
        return f"<tfhub.Module {self._instance.scope} of {self._spec.info.path}>"


def export_spec(
    spec: ModuleSpec, path: str, checkpoint_path: str, name_transform_fn: Callable[[str], str]
) -> None:
    """``ModuleSpec.export``: instantiates the spec in a graph of its own, restores its
    variables from ``checkpoint_path`` and exports it."""
    with tf().Graph().as_default():
        module = Module(spec)
        assignment = {name_transform_fn(k): v for k, v in module.variable_map.items()}
        if assignment:
            v1().train.init_from_checkpoint(checkpoint_path, assignment)
        with v1().Session() as session:
            session.run(v1().global_variables_initializer())
            module.export(path, session)
