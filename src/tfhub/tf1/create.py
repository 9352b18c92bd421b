"""``create_module_spec``: a TF1 Hub module defined by a function that builds its graph."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tfhub.core.hub_module import ATTACHMENT_COLLECTION, encode_attachment, format_tags
from tfhub.errors import ModuleDefinitionError
from tfhub.tf1._tf import tf, v1
from tfhub.tf1.definition import definition_of
from tfhub.tf1.meta_graph import unsupported_collections
from tfhub.tf1.spec import ModuleSpec


def create_module_spec(
    module_fn: Callable[..., Any],
    tags_and_args: Sequence[tuple[Iterable[str], Mapping[str, Any]]] | None = None,
    drop_collections: Iterable[str] | None = None,
) -> ModuleSpec:
    """Builds a module's graph variants by calling ``module_fn`` in new graphs (never the
    current one), with resource variables by default. Works in TF1 graph mode and from
    eager TF2.

    Args:
        module_fn: builds the graph and declares signatures with ``add_signature`` (and
            attached messages with ``attach_message``).
        tags_and_args: ``[(tags, kwargs), ...]``: one graph variant per entry, built by
            ``module_fn(**kwargs)``. None means ``[(set(), {})]``: one inference variant.
        drop_collections: graph collections to empty before storing each variant.

    Raises:
        ModuleDefinitionError: a variant declares no signature, two variants share a tag
            set, or a graph holds collections the format cannot store.

    Example:
        >>> def module_fn(is_training):  # doctest: +SKIP
        ...     x = tf.compat.v1.placeholder(tf.float32, [None, 3])
        ...     tfhub.add_signature(inputs=x, outputs=tf.compat.v1.layers.dense(x, 2))
        >>> spec = tfhub.create_module_spec(  # doctest: +SKIP
        ...     module_fn, [({"train"}, {"is_training": True}), (set(), {"is_training": False})])
    """
    variants = list(tags_and_args) if tags_and_args else [((), {})]
    meta_graphs: dict[frozenset[str], Any] = {}
    for tags, kwargs in variants:
        key = frozenset(tags or ())
        if key in meta_graphs:
            raise ModuleDefinitionError(
                f"create_module_spec(): tags {format_tags(key)} used twice."
            )
        meta_graphs[key] = _build_variant(module_fn, key, dict(kwargs), drop_collections or ())
    label = getattr(module_fn, "__qualname__", None) or repr(module_fn)
    return ModuleSpec.from_meta_graphs(meta_graphs.values(), f"<module_fn {label}>")


def _build_variant(
    module_fn: Callable[..., Any],
    tags: frozenset[str],
    kwargs: dict[str, Any],
    drop_collections: Iterable[str],
) -> Any:
    compat = v1()
    with tf().Graph().as_default() as graph:
        with compat.variable_scope("", use_resource=True):
            module_fn(**kwargs)
        for key in drop_collections:
            del compat.get_collection_ref(key)[:]
        meta_graph = compat.train.export_meta_graph(strip_default_attrs=True)
    definition = definition_of(graph)
    where = f"graph variant {format_tags(tags)}"
    if not definition.signatures:
        raise ModuleDefinitionError(
            f"{where}: no signature. Call tfhub.add_signature(...) at least once in module_fn."
        )
    meta_graph.meta_info_def.tags.extend(sorted(tags))
    for name, signature in definition.signatures.items():
        meta_graph.signature_def[name].CopyFrom(signature)
    if definition.attachments:
        values = meta_graph.collection_def[ATTACHMENT_COLLECTION].bytes_list.value
        values.extend(encode_attachment(k, v) for k, v in definition.attachments.items())
    unsupported = unsupported_collections(meta_graph)
    if unsupported:
        raise ModuleDefinitionError(
            f"{where} holds collections the TF1 Hub format cannot store: "
            f"{', '.join(unsupported)}. Use create_module_spec(..., drop_collections=[...])."
        )
    return meta_graph
