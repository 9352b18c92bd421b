"""``ModuleSpec``: a TF1 Hub module before it is instantiated (its graph variants, signatures,
attached messages and checkpoint), and :func:`load_module_spec`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tfhub.core.hub_module import (
    FORMAT_V3,
    MODULE_DEF_PB,
    GraphVariant,
    HubModule,
    format_tags,
    meta_graph_blobs,
    parse_hub_module,
    parse_meta_graph,
)
from tfhub.errors import ModelFormatError, ModuleDefinitionError, ModuleLookupError
from tfhub.inspection.checkpoint import checkpoint_problem
from tfhub.tf._import import read_file
from tfhub.tf1._tf import tf, v1
from tfhub.tf1.meta_graph import bind_assets, unsupported_collections
from tfhub.tf1.tensor_info import ParsedTensorInfo

Tags = Iterable[str] | None


class ModuleSpec:
    """The blueprint of a TF1 Hub module, from :func:`load_module_spec` or
    ``create_module_spec``; ``Module(spec)`` instantiates it in a graph.

    Example:
        >>> spec = tfhub.load_module_spec("/path/to/module")  # doctest: +SKIP
        >>> spec.get_tags(), spec.get_signature_names()  # doctest: +SKIP
        ([frozenset(), frozenset({'train'})], ['default', 'tokens'])
    """

    def __init__(
        self,
        module: HubModule,
        meta_graphs: Mapping[frozenset[str], bytes],
        checkpoint_path: str | None = None,
        module_dir: str | None = None,
    ) -> None:
        self._module = module
        self._blobs = dict(meta_graphs)
        self._parsed: dict[frozenset[str], Any] = {}
        self.checkpoint_path = checkpoint_path
        self.module_dir = module_dir

    @classmethod
    def from_meta_graphs(cls, meta_graphs: Iterable[Any], label: str) -> ModuleSpec:
        """A spec of in-memory ``MetaGraphDef`` s (from ``create_module_spec``)."""
        blobs = {frozenset(m.meta_info_def.tags): m.SerializeToString() for m in meta_graphs}
        variants = tuple(parse_meta_graph(blob) for blob in blobs.values())
        return cls(HubModule(label, FORMAT_V3, (), variants), blobs)

    # -- the public interface ---------------------------------------------------------------

    def get_tags(self) -> list[frozenset[str]]:
        """The tag set of every graph variant (inference, the empty set, first)."""
        return self._module.tags

    def get_signature_names(self, tags: Tags = None) -> list[str]:
        """The signature names of the graph variant ``tags``."""
        return sorted(self.variant(tags).signatures)

    def get_input_info_dict(
        self, signature: str | None = None, tags: Tags = None
    ) -> dict[str, ParsedTensorInfo]:
        """Input name -> ``ParsedTensorInfo`` (``dtype``, ``get_shape()``, ``is_sparse``,
        ``is_composite``, ``type_spec``) of a signature (default: ``"default"``).

        Raises:
            ModuleLookupError: no such signature or graph variant.
        """
        infos = self.variant(tags).signature(signature).inputs
        return {key: ParsedTensorInfo(info) for key, info in infos.items()}

    def get_output_info_dict(
        self, signature: str | None = None, tags: Tags = None
    ) -> dict[str, ParsedTensorInfo]:
        """Output name -> ``ParsedTensorInfo`` of a signature; see :meth:`get_input_info_dict`."""
        infos = self.variant(tags).signature(signature).outputs
        return {key: ParsedTensorInfo(info) for key, info in infos.items()}

    def get_attached_message(
        self, key: str, message_type: Any, tags: Tags = None, required: bool = False
    ) -> Any:
        """The message attached under ``key`` (see ``attach_message``), parsed as
        ``message_type``; None if there is none and not ``required``.

        Raises:
            ModuleLookupError: ``required`` and nothing is attached under ``key``.
        """
        variant = self.variant(tags)
        data = variant.attachments.get(key)
        if data is None:
            if required:
                attached = ", ".join(sorted(variant.attachments)) or "none"
                raise ModuleLookupError(
                    f"No message attached under {key!r} in graph variant "
                    f"{format_tags(variant.tags)} of {self._module.path}. Attached: {attached}."
                )
            return None
        message = message_type()
        message.ParseFromString(data)
        return message

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        checkpoint_path: str | None = None,
        name_transform_fn: Callable[[str], str] | None = None,
    ) -> None:
        """Exports the module with its variables read from a checkpoint (a TF1
        ``tf.compat.v1.train.Saver`` checkpoint whose names match the module's variable
        names, or ``name_transform_fn`` of them). Works in TF1 graph mode and in eager TF2.

        Raises:
            ModuleDefinitionError: no ``checkpoint_path``.
        """
        if not checkpoint_path:
            raise ModuleDefinitionError("ModuleSpec.export() needs checkpoint_path=...")
        from tfhub.tf1.module import export_spec

        export_spec(self, os.fspath(path), checkpoint_path, name_transform_fn or (lambda n: n))

    # -- for Module and the exporter --------------------------------------------------------

    @property
    def info(self) -> HubModule:
        """The TF-free description of the module (variants, signatures, attachments)."""
        return self._module

    def variant(self, tags: Tags = None) -> GraphVariant:
        return self._module.variant(tags)

    def meta_graph(self, tags: Tags = None) -> Any:
        """The ``MetaGraphDef`` of a graph variant (shared: copy it before editing), with
        asset paths pointing into the module's ``assets/``."""
        key = self.variant(tags).tags
        if key not in self._parsed:
            meta_graph = v1().MetaGraphDef.FromString(self._blobs[key])
            if self.module_dir is not None:
                bind_assets(meta_graph, self.module_dir)
            unsupported = unsupported_collections(meta_graph)
            if unsupported:
                raise ModelFormatError(
                    f"{self._module.path}: graph variant {format_tags(key)} holds collections the "
                    f"TF1 Hub format does not support: {', '.join(unsupported)}."
                )
            self._parsed[key] = meta_graph
        return self._parsed[key]

    def __repr__(self) -> str:
        return f"<tfhub.ModuleSpec {self._module.path} tags={[sorted(t) for t in self.get_tags()]}>"


def _join(root: str, *names: str) -> str:
    return "/".join([root.rstrip("/"), *names]) if "://" in root else os.path.join(root, *names)


def load_module_spec(handle: str | os.PathLike[str]) -> ModuleSpec:
    """Resolves ``handle`` (anything :func:`tfhub.resolve` accepts) and reads the TF1 Hub
    module there. Reads metadata only: nothing is added to any graph.

    Raises:
        ModelFormatError: the handle holds no TF1 Hub module, one tfhub cannot read, or a
            damaged one (it lists variables, but its ``variables/`` checkpoint is missing).

    Example:
        >>> spec = tfhub.load_module_spec("https://hub.example.com/models/text/1")  # doctest: +SKIP
        >>> spec.get_input_info_dict()["default"].dtype  # doctest: +SKIP
        tf.string
    """
    from tfhub.hub import resolve
    from tfhub.inspection.load_scan import check_before_load

    root = resolve(handle)
    check_before_load(handle, root, read=read_file)  # the risky-op scan (TFHUB_SCAN)
    gfile = tf().io.gfile
    if not gfile.exists(_join(root, MODULE_DEF_PB)):
        raise ModelFormatError(
            f"{handle} is not a TF1 Hub module (no {MODULE_DEF_PB} in {root}). "
            "Load TF2 SavedModels with tfhub.load(handle) or tfhub.KerasLayer(handle)."
        )
    saved_model = read_file(_join(root, "saved_model.pb"))
    module = parse_hub_module(read_file(_join(root, MODULE_DEF_PB)), saved_model, root)
    pairs = zip(module.variants, meta_graph_blobs(saved_model), strict=True)
    blobs = {variant.tags: bytes(blob) for variant, blob in pairs}
    has_variables = gfile.exists(_join(root, "variables", "variables.index"))
    _check_checkpoint(module, root)
    checkpoint = _join(root, "variables", "variables") if has_variables else None
    return ModuleSpec(module, blobs, checkpoint, root)


def _check_checkpoint(module: HubModule, root: str) -> None:
    """Refuses a module that lists variables but lacks (part of) the checkpoint holding
    their values: a ``Module`` would silently start from the initializers instead."""
    declared = len({name for variant in module.variants for name in variant.variables})
    if not declared:
        return
    gfile = tf().io.gfile
    directory = _join(root, "variables")
    names = [n.rstrip("/") for n in gfile.listdir(directory)] if gfile.isdir(directory) else None
    problem = checkpoint_problem(names, declared, required=False)
    if problem:
        raise ModelFormatError(f"{root} is damaged: {problem}")


def as_module_spec(spec: ModuleSpec | str | os.PathLike[str]) -> ModuleSpec:
    if isinstance(spec, ModuleSpec):
        return spec
    if isinstance(spec, str | os.PathLike):
        return load_module_spec(spec)
    raise ModuleDefinitionError(
        f"Expected a ModuleSpec or a handle (str), got {type(spec).__name__}."
    )
