"""Image modules: the ``image_module_info`` attachment (``ImageModuleInfo``) and the expected
input size and channels of an image signature.

``ImageModuleInfo`` is the format's message (package ``tensorflow_hub``: ``default_image_size``
= 1 with ``height`` = 1 and ``width`` = 2), built in a descriptor pool of its own so that it
never clashes with another library's copy.
"""

from __future__ import annotations

import importlib
from typing import Any

from tfhub.errors import ModelFormatError, ModuleLookupError
from tfhub.tf1.definition import attach_message

IMAGE_MODULE_INFO_KEY = "image_module_info"


def _image_module_info_class() -> Any:
    descriptor_pb2 = importlib.import_module("google.protobuf.descriptor_pb2")
    pool_module = importlib.import_module("google.protobuf.descriptor_pool")
    factory = importlib.import_module("google.protobuf.message_factory")
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="tfhub/image_module_info.proto", package="tensorflow_hub", syntax="proto3"
    )
    info = file.message_type.add(name="ImageModuleInfo")
    size = info.nested_type.add(name="InputSize")
    for name, number in (("height", 1), ("width", 2)):
        size.field.add(name=name, number=number, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    info.field.add(
        name="default_image_size", number=1, type=field.TYPE_MESSAGE,
        label=field.LABEL_OPTIONAL, type_name=".tensorflow_hub.ImageModuleInfo.InputSize",
    )  # fmt: skip
    pool = pool_module.DescriptorPool()
    pool.Add(file)
    return factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow_hub.ImageModuleInfo"))


ImageModuleInfo: Any = _image_module_info_class()
"""The message class (``info = ImageModuleInfo(); info.default_image_size.height = 224``)."""


def attach_image_module_info(image_module_info: Any) -> None:
    """Attaches an ``ImageModuleInfo`` from within a ``module_fn``.

    Example:
        >>> info = ImageModuleInfo()
        >>> info.default_image_size.height, info.default_image_size.width = 224, 224
        >>> ImageModuleInfo.FromString(info.SerializeToString()).default_image_size.width
        224
        >>> attach_image_module_info(info)  # in a module_fn  # doctest: +SKIP
    """
    attach_message(IMAGE_MODULE_INFO_KEY, image_module_info)


def get_image_module_info(module_or_spec: Any, required: bool = False) -> Any:
    """The module's attached ``ImageModuleInfo``, or None."""
    return module_or_spec.get_attached_message(
        IMAGE_MODULE_INFO_KEY, ImageModuleInfo, required=required
    )


def _image_shape(module_or_spec: Any, signature: str | None, input_name: str | None) -> Any:
    name = input_name or "images"
    inputs = module_or_spec.get_input_info_dict(signature)
    if name not in inputs:
        raise ModuleLookupError(
            f"The module has no input {name!r} in signature {signature or 'default'!r} "
            f"(inputs: {', '.join(sorted(inputs)) or 'none'})."
        )
    shape = inputs[name].get_shape()
    if shape.rank != 4:
        raise ModelFormatError(
            f"Shape of module input {name!r} is {shape}, expected "
            "[batch_size, height, width, num_channels]."
        )
    return shape


def get_expected_image_size(
    module_or_spec: Any, signature: str | None = None, input_name: str | None = None
) -> list[int]:
    """``[height, width]`` of the images a module expects: from its ``image_module_info``
    attachment if set, else from the shape of input ``input_name`` (default ``images``).

    Raises:
        ModuleLookupError: no such input.
        ModelFormatError: the size is unknown.
    """
    info = get_image_module_info(module_or_spec)
    if info is not None and info.default_image_size.height and info.default_image_size.width:
        return [info.default_image_size.height, info.default_image_size.width]
    shape = _image_shape(module_or_spec, signature, input_name)
    _, height, width, _ = shape.as_list()
    if not height or not width:
        raise ModelFormatError(
            f"Shape of module input is {shape}: height and width are unknown and the module "
            "has no image_module_info."
        )
    return [height, width]


def get_num_image_channels(
    module_or_spec: Any, signature: str | None = None, input_name: str | None = None
) -> int:
    """The number of channels of input ``input_name`` (default ``images``).

    Raises:
        ModuleLookupError: no such input.
        ModelFormatError: the number of channels is unknown.
    """
    shape = _image_shape(module_or_spec, signature, input_name)
    channels = shape.as_list()[3]
    if channels is None:
        raise ModelFormatError(f"Shape of module input is {shape}: num_channels is unknown.")
    return int(channels)
