"""The TF1 Hub format, read without TensorFlow (and its two small messages written).

A TF1 Hub module is a directory with:

* ``tfhub_module.pb``: a ``ModuleDef`` message (``format = 3`` in field 1, the
  ``required_features`` a reader must know in field 2; none are defined yet);
* ``saved_model.pb``: a SavedModel with one MetaGraph per *graph variant*, each named by its
  tag set (the inference variant has the empty set). Each MetaGraph holds the module's
  signatures; attached messages are ``ModuleAttachment`` messages (``key`` = 1, ``value`` = 2)
  in its ``hub_module_attachments`` collection (a bytes list); asset files are named by
  ``AssetFileDef`` messages in its ``saved_model_assets`` collection;
* ``variables/variables.*``: one checkpoint shared by all variants; ``assets/``: asset files.

Example:
    >>> module = parse_hub_module(encode_module_def(), b"")
    >>> module.format_version, module.variants
    (3, ())
    >>> parse_hub_module(encode_module_def(["sharding"]), b"")
    Traceback (most recent call last):
    ...
    tfhub.errors.ModelFormatError: <memory> needs TF1 Hub format features this version of tfhub \
does not support: sharding. Upgrade tfhub, or re-export the module without them.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tfhub.core.formats import read_model_file
from tfhub.core.wire import Value, fields, message, text
from tfhub.errors import ModelFormatError, ModelNotFoundError, ModuleLookupError

__all__ = [
    "ASSETS_COLLECTION",
    "ATTACHMENT_COLLECTION",
    "FORMAT_V3",
    "MODULE_DEF_PB",
    "AssetFile",
    "GraphVariant",
    "HubModule",
    "Signature",
    "TensorSpecInfo",
    "asset_path",
    "decode_attachment",
    "dtype_name",
    "encode_attachment",
    "encode_module_def",
    "format_tags",
    "meta_graph_blobs",
    "parse_hub_module",
    "parse_shape",
    "read_hub_module",
    "type_spec_info",
]

MODULE_DEF_PB = "tfhub_module.pb"
SAVED_MODEL_PB = "saved_model.pb"
FORMAT_V3 = 3
SUPPORTED_FEATURES: frozenset[str] = frozenset()
ATTACHMENT_COLLECTION = "hub_module_attachments"
ASSETS_COLLECTION = "saved_model_assets"  # tf.compat.v1.saved_model.ASSETS_KEY
ASSETS_DIR = "assets"


def format_tags(tags: Iterable[str]) -> str:
    """A tag set as tfhub writes it in messages: ``{}`` is the inference variant.

    >>> format_tags(set()), format_tags(["train", "gpu"])
    ('{}', '{gpu, train}')
    """
    return "{" + ", ".join(sorted(tags)) + "}"


# tensorflow/core/framework/types.proto
_DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "float16",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}  # fmt: skip
_SPARSE_TENSOR_SPEC = 1  # TypeSpecProto.TypeSpecClass
_RAGGED_TENSOR_SPEC = 3


@dataclass(frozen=True)
class TensorSpecInfo:
    """One input or output of a signature.

    ``kind`` is ``"dense"``, ``"sparse"``, ``"ragged"`` or ``"composite"`` (another composite
    tensor, named by ``type_spec_class``). ``shape`` is the (dense) shape, ``None`` for an
    unknown rank, with ``None`` for unknown dimensions. ``components`` are the graph tensors
    behind the value, in ``tf.nest.flatten(..., expand_composites=True)`` order: one for a
    dense tensor, ``(indices, values, dense_shape)`` for a sparse one, ``(flat_values,
    row_splits...)`` for a ragged one.
    """

    kind: str
    dtype: str
    shape: tuple[int | None, ...] | None
    components: tuple[str, ...]
    ragged_rank: int | None = None
    row_splits_dtype: str | None = None
    type_spec_class: str | None = None


@dataclass(frozen=True)
class Signature:
    """A named signature of one graph variant."""

    name: str
    inputs: Mapping[str, TensorSpecInfo]
    outputs: Mapping[str, TensorSpecInfo]
    method_name: str = ""


@dataclass(frozen=True)
class AssetFile:
    """An asset: the graph tensor holding its path and its file name under ``assets/``."""

    tensor_name: str
    filename: str


@dataclass(frozen=True)
class GraphVariant:
    """One MetaGraph of the module: its tags, signatures, attached messages (raw bytes by
    key), the names of its collections and its asset files; and, by graph name, what
    fine-tuning needs: its variables (the trainable ones apart), its update ops (e.g.
    batch-norm moving averages) and its regularization loss tensors."""

    tags: frozenset[str]
    signatures: Mapping[str, Signature] = field(default_factory=dict)
    attachments: Mapping[str, bytes] = field(default_factory=dict)
    collections: tuple[str, ...] = ()
    assets: tuple[AssetFile, ...] = ()
    variables: tuple[str, ...] = ()
    trainable_variables: tuple[str, ...] = ()
    update_ops: tuple[str, ...] = ()
    regularization_losses: tuple[str, ...] = ()

    def signature(self, name: str | None = None) -> Signature:
        """The signature ``name`` (``"default"`` when None).

        Raises:
            ModuleLookupError: there is no such signature (the message lists them).
        """
        key = name or "default"
        if key not in self.signatures:
            raise ModuleLookupError(
                f"No signature {key!r} in the graph variant {format_tags(self.tags)}. "
                f"Available: {', '.join(sorted(self.signatures)) or 'none'}."
            )
        return self.signatures[key]


@dataclass(frozen=True)
class HubModule:
    """What :func:`read_hub_module` found in a module directory."""

    path: str
    format_version: int
    required_features: tuple[str, ...]
    variants: tuple[GraphVariant, ...]

    @property
    def tags(self) -> list[frozenset[str]]:
        """The tag set of every graph variant, sorted (inference, ``set()``, first)."""
        return sorted((v.tags for v in self.variants), key=lambda t: (len(t), sorted(t)))

    def variant(self, tags: Iterable[str] | None = None) -> GraphVariant:
        """The graph variant with exactly these tags (None or empty: the inference variant;
        a single string is one tag).

        Raises:
            ModuleLookupError: no variant has these tags (the message lists the tag sets).
        """
        wanted = frozenset([tags] if isinstance(tags, str) else tags or ())
        for variant in self.variants:
            if variant.tags == wanted:
                return variant
        available = ", ".join(format_tags(t) + ("" if t else " (inference)") for t in self.tags)
        raise ModuleLookupError(
            f"No graph variant with tags {format_tags(wanted)} in {self.path}. "
            f"Available: {available or 'none'}."
        )


# -- reading ---------------------------------------------------------------------------------


def _signed(value: int) -> int:
    """An int64 read as an unsigned varint, back to its sign."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _zigzag(value: int) -> int:
    """A ``sint64`` field's value."""
    return (value >> 1) ^ -(value & 1)


def dtype_name(value: int) -> str:
    """A ``DataType`` enum value as its Python name.

    >>> dtype_name(1), dtype_name(7), dtype_name(99)
    ('float32', 'string', 'dtype(99)')
    """
    return _DTYPES.get(value, f"dtype({value})")


def parse_shape(proto: Value) -> tuple[int | None, ...] | None:
    """A ``TensorShapeProto``: a tuple with ``None`` for unknown dimensions, or ``None``
    for an unknown rank.

    >>> parse_shape(bytes([0x12, 0x0B, 0x08] + [0xFF] * 9 + [0x01, 0x12, 0x02, 0x08, 0x03]))
    (None, 3)
    """
    dims: list[int | None] = []
    for number, value in fields(message(proto)):
        if number == 3 and value:  # unknown_rank
            return None
        if number == 2:
            size = _signed(int(dict(fields(message(value))).get(1, 0)))
            dims.append(None if size < 0 else size)
    return tuple(dims)


def _tuple_items(structured: Value) -> list[dict[int, Value]]:
    """The items of a StructuredValue ``tuple_value`` (or ``list_value``), each as a dict."""
    for number, value in fields(message(structured)):
        if number in (51, 52):
            return [dict(fields(message(v))) for n, v in fields(message(value)) if n == 1]
    return []


def type_spec_info(proto: Value, components: Iterable[str] = ()) -> TensorSpecInfo:
    """A ``TypeSpecProto`` (a composite tensor's spec): ``sparse`` and ``ragged`` specs are
    decoded, other classes are ``composite`` named by ``type_spec_class``."""
    spec = dict(fields(message(proto)))
    class_name = text(spec[3]) if 3 in spec else ""
    components = list(components)
    if spec.get(1) == _SPARSE_TENSOR_SPEC and 2 in spec:
        items = _tuple_items(spec[2])  # (shape, dtype)
        if len(items) >= 2:
            shape = parse_shape(items[0][31]) if 31 in items[0] else None
            dtype = dtype_name(int(items[1].get(32, 0)))
            name = class_name or "SparseTensorSpec"
            return TensorSpecInfo("sparse", dtype, shape, tuple(components), type_spec_class=name)
    if spec.get(1) != _RAGGED_TENSOR_SPEC or 2 not in spec:
        return TensorSpecInfo("composite", "", None, tuple(components), type_spec_class=class_name)
    items = _tuple_items(spec[2])  # (shape, dtype, ragged_rank, row_splits_dtype, ...)
    if len(items) < 4:
        raise ModelFormatError("Malformed RaggedTensorSpec in a signature.")
    return TensorSpecInfo(
        kind="ragged",
        dtype=dtype_name(int(items[1].get(32, 0))),
        shape=parse_shape(items[0][31]) if 31 in items[0] else None,
        components=tuple(components),
        ragged_rank=_zigzag(int(items[2].get(12, 0))),  # sint64 int64_value
        row_splits_dtype=dtype_name(int(items[3].get(32, 9))),
        type_spec_class=class_name or "RaggedTensorSpec",
    )


def _tensor_info(proto: Value) -> TensorSpecInfo:
    name, dtype, shape = "", 0, None
    sparse: dict[int, Value] | None = None
    composite: Value | None = None
    components: list[str] = []
    for number, value in fields(message(proto)):
        if number == 1:
            name = text(value)
        elif number == 2:
            dtype = int(value)
        elif number == 3:
            shape = parse_shape(value)
        elif number == 4:
            sparse = dict(fields(message(value)))
        elif number == 5:
            for n, v in fields(message(value)):
                if n == 1:
                    composite = v
                elif n == 2:
                    components.append(text(dict(fields(message(v))).get(1, memoryview(b""))))
    if composite is not None:
        return type_spec_info(composite, components)
    if sparse is not None:
        names = tuple(text(sparse.get(k, memoryview(b""))) for k in (2, 1, 3))
        return TensorSpecInfo("sparse", dtype_name(dtype), shape, names)
    return TensorSpecInfo("dense", dtype_name(dtype), shape, (name,))


def _map_entry(entry: Value) -> tuple[str, Value]:
    key: str = ""
    value: Value = memoryview(b"")
    for number, item in fields(message(entry)):
        if number == 1:
            key = text(item)
        elif number == 2:
            value = item
    return key, value


def _signature(name: str, proto: Value) -> Signature:
    inputs: dict[str, TensorSpecInfo] = {}
    outputs: dict[str, TensorSpecInfo] = {}
    method = ""
    for number, value in fields(message(proto)):
        if number in (1, 2):
            key, info = _map_entry(value)
            (inputs if number == 1 else outputs)[key] = _tensor_info(info)
        elif number == 3:
            method = text(value)
    return Signature(name, inputs, outputs, method)


def decode_attachment(data: Value) -> tuple[str, bytes]:
    """A ``ModuleAttachment`` message as ``(key, value)``."""
    key, value = "", b""
    for number, item in fields(message(data)):
        if number == 1:
            key = text(item)
        elif number == 2:
            value = bytes(message(item))
    return key, value


def _bytes_list(collection: Value, name: str) -> list[Value]:
    for number, value in fields(message(collection)):
        if number == 2:
            return [v for n, v in fields(message(value)) if n == 1]
    raise ModelFormatError(f"The MetaGraph collection {name!r} is not a bytes list.")


def _asset_file(proto: Value) -> AssetFile:
    tensor, filename = "", ""
    for number, value in fields(message(proto)):
        if number == 1:
            tensor = text(dict(fields(message(value))).get(1, memoryview(b"")))
        elif number == 2:
            filename = text(value)
    return AssetFile(tensor, filename)


def _any_list_assets(collection: Value) -> list[AssetFile]:
    assets = []
    for number, value in fields(message(collection)):
        if number == 5:  # any_list
            for n, any_proto in fields(message(value)):
                if n == 1:
                    packed = dict(fields(message(any_proto)))
                    assets.append(_asset_file(packed.get(2, memoryview(b""))))
    return assets


def _node_list(collection: Value) -> tuple[str, ...]:
    for number, value in fields(message(collection)):
        if number == 1:
            return tuple(text(v) for n, v in fields(message(value)) if n == 1)
    return ()


def _variable_names(collection: Value, name: str) -> tuple[str, ...]:
    """The graph names of the variables in a collection of VariableDefs (``:0`` dropped)."""
    names = []
    for variable_def in _bytes_list(collection, name):
        found = dict(fields(message(variable_def))).get(1, memoryview(b""))
        names.append(text(found).split(":", 1)[0])
    return tuple(names)


def _tags(meta_info: Value) -> frozenset[str]:
    return frozenset(text(v) for n, v in fields(message(meta_info)) if n == 4)


def parse_meta_graph(meta_graph: Value) -> GraphVariant:
    """One serialized MetaGraphDef as a :class:`GraphVariant` (the graph itself is skipped)."""
    tags: frozenset[str] = frozenset()
    signatures: dict[str, Signature] = {}
    attachments: dict[str, bytes] = {}
    collections: list[str] = []
    assets: list[AssetFile] = []
    lists: dict[str, tuple[str, ...]] = {}
    for number, value in fields(message(meta_graph)):
        if number == 1:
            tags = _tags(value)
        elif number == 4:
            key, collection = _map_entry(value)
            collections.append(key)
            if key in ("variables", "trainable_variables"):  # GraphKeys values
                lists[key] = _variable_names(collection, key)
            elif key in ("update_ops", "regularization_losses"):
                lists[key] = _node_list(collection)
            elif key == ATTACHMENT_COLLECTION:
                attachments.update(decode_attachment(v) for v in _bytes_list(collection, key))
            elif key == ASSETS_COLLECTION:
                assets += _any_list_assets(collection)
        elif number == 5:
            key, signature = _map_entry(value)
            signatures[key] = _signature(key, signature)
        elif number == 6:
            assets.append(_asset_file(value))
    return GraphVariant(tags, signatures, attachments, tuple(collections), tuple(assets), **lists)


def meta_graph_blobs(saved_model: bytes | memoryview) -> list[memoryview]:
    """Each serialized MetaGraphDef of a serialized SavedModel, in file order (no copy)."""
    return [message(v) for n, v in fields(saved_model) if n == 2]


def _module_def(data: bytes | memoryview, source: str) -> tuple[int, tuple[str, ...]]:
    version, features = 0, []
    for number, value in fields(data):
        if number == 1:
            version = int(value)
        elif number == 2:
            features.append(text(value))
    if version != FORMAT_V3:
        raise ModelFormatError(
            f"{source} has TF1 Hub format version {version}; tfhub reads version {FORMAT_V3}. "
            "The module may come from a newer library or be damaged."
        )
    unknown = sorted(set(features) - SUPPORTED_FEATURES)
    if unknown:
        raise ModelFormatError(
            f"{source} needs TF1 Hub format features this version of tfhub does not support: "
            f"{', '.join(unknown)}. Upgrade tfhub, or re-export the module without them."
        )
    return version, tuple(features)


def parse_hub_module(
    module_def: bytes | memoryview, saved_model: bytes | memoryview, path: str = "<memory>"
) -> HubModule:
    """A module from the bytes of its ``tfhub_module.pb`` and ``saved_model.pb``.

    Raises:
        ModelFormatError: an unknown format version or required feature, damaged protocol
            buffers, or two graph variants with the same tags.
    """
    in_memory = path == "<memory>"
    module_file = path if in_memory else os.path.join(path, MODULE_DEF_PB)
    try:
        version, features = _module_def(module_def, module_file)
    except ModelFormatError as e:
        if str(e).startswith(module_file):
            raise
        raise ModelFormatError(f"{module_file} is damaged: {e}") from e
    saved_model_file = path if in_memory else os.path.join(path, SAVED_MODEL_PB)
    try:
        variants = tuple(parse_meta_graph(mg) for mg in meta_graph_blobs(saved_model))
    except ModelFormatError as e:
        raise ModelFormatError(f"{saved_model_file} is damaged: {e}") from e
    seen: set[frozenset[str]] = set()
    for variant in variants:
        if variant.tags in seen:
            raise ModelFormatError(
                f"{saved_model_file} has two graph variants with tags {format_tags(variant.tags)}."
            )
        seen.add(variant.tags)
    return HubModule(path, version, features, variants)


def read_hub_module(path: str | os.PathLike[str]) -> HubModule:
    """Reads the metadata of the TF1 Hub module in a local directory.

    Raises:
        ModelNotFoundError: ``path`` is not a directory.
        ModelFormatError: it holds no TF1 Hub module, or one tfhub cannot read.

    Example:
        >>> module = read_hub_module("/path/to/module")  # doctest: +SKIP
        >>> module.variant(set()).signature("default").inputs  # doctest: +SKIP
        {'default': TensorSpecInfo(kind='dense', dtype='string', shape=(None,), ...)}
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ModelNotFoundError(f"No module at {root}: not a directory.")
    module_def = os.path.join(root, MODULE_DEF_PB)
    if not os.path.isfile(module_def):
        raise ModelFormatError(
            f"{root} is not a TF1 Hub module: it has no {MODULE_DEF_PB}. "
            "Load TF2 SavedModels with tfhub.load()."
        )
    saved_model = os.path.join(root, SAVED_MODEL_PB)
    return parse_hub_module(read_model_file(module_def), read_model_file(saved_model), root)


def asset_path(module_dir: str, filename: str) -> str:
    """The path of asset ``filename`` of the module in ``module_dir``: inside its
    ``assets/`` directory, whatever the name says.

    Raises:
        ModelFormatError: the name is absolute, has ``..`` components or (locally) resolves
            outside ``assets/`` through a link.

    Example:
        >>> asset_path("/m", "vocab.txt")
        '/m/assets/vocab.txt'
        >>> asset_path("/m", "../variables/variables.index")
        Traceback (most recent call last):
        ...
        tfhub.errors.ModelFormatError: Asset '../variables/variables.index' of /m points \
outside its assets/ directory; the module is damaged or hostile.
    """
    parts = filename.replace("\\", "/").split("/")
    refused = (
        not filename
        or filename.startswith(("/", "\\"))
        or "\0" in filename
        or filename[1:2] == ":"
        or any(p in ("", ".", "..") for p in parts)
    )
    remote = "://" in module_dir
    join = posixpath.join if remote else os.path.join
    assets = join(module_dir, ASSETS_DIR)
    joined = join(assets, *parts)
    if not refused and not remote:
        real_assets = os.path.realpath(assets)
        refused = os.path.commonpath([real_assets, os.path.realpath(joined)]) != real_assets
    if refused:
        raise ModelFormatError(
            f"Asset {filename!r} of {module_dir} points outside its {ASSETS_DIR}/ directory; "
            "the module is damaged or hostile."
        )
    return joined


# -- writing ---------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_module_def(required_features: Iterable[str] = ()) -> bytes:
    """A serialized ``ModuleDef`` of format version 3.

    Example:
        >>> encode_module_def()
        b'\\x08\\x03'
    """
    out = _varint(1 << 3) + _varint(FORMAT_V3)
    for feature in required_features:
        out += _length_delimited(2, feature.encode("utf-8"))
    return out


def encode_attachment(key: str, value: bytes) -> bytes:
    """A serialized ``ModuleAttachment`` (the inverse of :func:`decode_attachment`).

    Example:
        >>> decode_attachment(encode_attachment("info", b"\\x08\\x01"))
        ('info', b'\\x08\\x01')
    """
    out = _length_delimited(1, key.encode("utf-8")) if key else b""
    return out + (_length_delimited(2, value) if value else b"")
