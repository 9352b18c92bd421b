"""Reads what ``tfhub inspect`` reports from a local model directory, without TensorFlow:
``saved_model.pb`` (and ``tfhub_module.pb``) as protocol-buffer data, the other files by
their sizes.

Example:
    >>> contents = read_model("/path/to/saved_model")  # doctest: +SKIP
    >>> contents.format, contents.variables.count  # doctest: +SKIP
    ('tf2-saved-model', 4)
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tfhub.core import formats
from tfhub.core.conventions import object_graph
from tfhub.core.hub_module import (
    MODULE_DEF_PB,
    GraphVariant,
    Signature,
    TensorSpecInfo,
    meta_graph_blobs,
    parse_hub_module,
    parse_meta_graph,
)
from tfhub.core.wire import fields, message, text
from tfhub.errors import ModelFormatError
from tfhub.inspection import objects
from tfhub.inspection.files import asset_files, checkpoint_files
from tfhub.inspection.graph import tf1_variables
from tfhub.inspection.report import (
    KERAS_SAVED_MODEL,
    AttachmentInfo,
    FileInfo,
    GraphVariantInfo,
    ImageInfo,
    ModelContents,
    SignatureInfo,
    TensorInfo,
    VariableInfo,
    VariablesInfo,
)

KERAS_METADATA_PB = "keras_metadata.pb"
IMAGE_MODULE_INFO_KEY = "image_module_info"
_INIT_OP_SIGNATURE = "__saved_model_init_op"  # the SavedModel's initializer, not an API


def read_model(path: str | os.PathLike[str]) -> ModelContents:
    """Reads the model in a local directory.

    Raises:
        ModelNotFoundError: ``path`` is not a directory.
        ModelFormatError: it holds no model, a damaged one, or a TF1 Hub module of a format
            version tfhub cannot read.
    """
    return model_contents(*formats.read_saved_model(path))


def model_contents(found: formats.ModelFormat, data: bytes) -> ModelContents:
    """:func:`read_model` of a model whose format and ``saved_model.pb`` bytes were read
    already (:func:`tfhub.core.formats.read_saved_model`).

    Raises:
        ModelFormatError: as :func:`read_model`.
    """
    root = found.path
    try:
        return _contents(root, found.kind, data)
    except (ModelFormatError, TypeError, ValueError, KeyError, IndexError) as e:
        # Damaged or hostile files: fields of the wrong wire type, missing messages, ...
        if isinstance(e, ModelFormatError) and str(e).startswith(root):
            raise  # already says which file and what (e.g. an unknown module format)
        raise ModelFormatError(f"{root}/{formats.SAVED_MODEL_PB} is damaged: {e}") from e


def _contents(root: str, kind: str, data: bytes) -> ModelContents:
    blobs = meta_graph_blobs(data)
    variants = _variants(root, kind, data, blobs)
    graph = object_graph(blobs) if kind == formats.TF2_SAVED_MODEL else None
    if graph:
        nodes, concrete = graph
        keras = objects.keras_info(nodes, os.path.isfile(os.path.join(root, KERAS_METADATA_PB)))
        reusable = objects.reusable_info(root, nodes, concrete)
        items = objects.variables(nodes)
    else:
        keras, reusable, items = None, None, tf1_variables(blobs)
    attachments = _attachments(variants)
    return ModelContents(
        format=KERAS_SAVED_MODEL if keras else kind,
        tensorflow_version=_tensorflow_version(blobs[0]),
        keras=keras,
        graph_variants=tuple(_variant_info(v) for v in variants),
        reusable=reusable,
        variables=_variables_info(items, checkpoint_files(root)),
        assets=asset_files(root),
        attachments=tuple(AttachmentInfo(k, len(v)) for k, v in attachments.items()),
        image=_image_info(kind, variants, attachments),
    )


def _variants(
    root: str, kind: str, data: bytes, blobs: list[memoryview]
) -> tuple[GraphVariant, ...]:
    """The graph variants; a TF1 Hub module's (inference first) after checking its
    ``tfhub_module.pb``."""
    if kind == formats.TF1_HUB_MODULE:
        module_def = formats.read_model_file(os.path.join(root, MODULE_DEF_PB))
        module = parse_hub_module(module_def, data, root)
        return tuple(module.variant(tags) for tags in module.tags)
    return tuple(parse_meta_graph(blob) for blob in blobs)


def _tensorflow_version(meta_graph: memoryview) -> str | None:
    for number, value in fields(meta_graph):
        if number == 1:  # meta_info_def
            for n, v in fields(message(value)):
                if n == 5:
                    return text(v) or None
    return None


def _tensor(name: str, spec: TensorSpecInfo) -> TensorInfo:
    return TensorInfo(
        name=name,
        kind=spec.kind,
        dtype=spec.dtype,
        shape=spec.shape,
        ragged_rank=spec.ragged_rank,
        type_spec=spec.type_spec_class or None,
        tensors=spec.components,
    )


def _signature(signature: Signature) -> SignatureInfo:
    return SignatureInfo(
        name=signature.name,
        method_name=signature.method_name,
        inputs=tuple(_tensor(k, v) for k, v in sorted(signature.inputs.items())),
        outputs=tuple(_tensor(k, v) for k, v in sorted(signature.outputs.items())),
    )


def _variant_info(variant: GraphVariant) -> GraphVariantInfo:
    names = sorted(n for n in variant.signatures if n != _INIT_OP_SIGNATURE)
    return GraphVariantInfo(
        tags=tuple(sorted(variant.tags)),
        signatures=tuple(_signature(variant.signatures[n]) for n in names),
        update_ops=len(variant.update_ops),
        regularization_losses=len(variant.regularization_losses),
    )


def _variables_info(
    items: tuple[VariableInfo, ...], checkpoint: tuple[FileInfo, ...]
) -> VariablesInfo:
    return VariablesInfo(
        count=len(items),
        trainable=sum(v.trainable for v in items),
        reference=sum(not v.resource for v in items),
        checkpoint_bytes=sum(f.size for f in checkpoint),
        checkpoint_files=len(checkpoint),
        items=items,
    )


def _attachments(variants: Iterable[GraphVariant]) -> dict[str, bytes]:
    """The attached messages of all variants by key (the inference variant's first)."""
    found: dict[str, bytes] = {}
    for variant in variants:
        for key, value in variant.attachments.items():
            found.setdefault(key, value)
    return found


def _image_info(
    kind: str, variants: tuple[GraphVariant, ...], attachments: dict[str, bytes]
) -> ImageInfo | None:
    """A TF1 Hub image module's expected image size (its ``image_module_info``, else the
    shape of the ``images`` input of its ``default`` signature) and channels."""
    if kind != formats.TF1_HUB_MODULE or not variants:
        return None
    signature = variants[0].signatures.get("default")
    images = signature.inputs.get("images") if signature else None
    shape = images.shape if images is not None and images.kind == "dense" else None
    if shape is not None and len(shape) != 4:
        shape = None
    channels = shape[3] if shape else None
    if IMAGE_MODULE_INFO_KEY in attachments:
        height, width = decode_image_size(attachments[IMAGE_MODULE_INFO_KEY])
        if height and width:
            return ImageInfo(height, width, channels, "image_module_info")
    if shape is None:
        return None
    return ImageInfo(shape[1], shape[2], channels, "input shape")


def decode_image_size(image_module_info: bytes) -> tuple[int | None, int | None]:
    """``(height, width)`` of a serialized ``ImageModuleInfo`` (``default_image_size``).

    >>> decode_image_size(bytes([0x0A, 0x05, 0x08, 0xE0, 0x01, 0x10, 0x60]))
    (224, 96)
    """
    for number, value in fields(image_module_info):
        if number == 1 and not isinstance(value, int):
            size = dict(fields(value))
            height, width = size.get(1), size.get(2)
            return (
                height if isinstance(height, int) else None,
                width if isinstance(width, int) else None,
            )
    return None, None
