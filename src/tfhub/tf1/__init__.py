"""The TF1 Hub format API (``hub.Module`` and friends), on public TensorFlow API.

Works in TF1 compatibility mode (``tf.compat.v1.disable_v2_behavior()``) and inside
``with tf.Graph().as_default():`` in TF2; ``create_module_spec``, ``ModuleSpec.export`` and
``eval_function_for_module`` also work when called from eager TF2 (they build graphs of their
own). TensorFlow is imported on first use, not by importing this package.

Example:
    >>> spec = tfhub.load_module_spec("/path/to/module")  # doctest: +SKIP
    >>> with tf.Graph().as_default():  # doctest: +SKIP
    ...     m = tfhub.Module(spec, trainable=True, tags={"train"})
    ...     outputs = m({"x": x, "words": words}, as_dict=True)
"""

from tfhub.tf1.create import create_module_spec
from tfhub.tf1.definition import add_signature, attach_message
from tfhub.tf1.eval_fn import eval_function_for_module
from tfhub.tf1.image_util import (
    ImageModuleInfo,
    attach_image_module_info,
    get_expected_image_size,
    get_num_image_channels,
)
from tfhub.tf1.module import Module
from tfhub.tf1.spec import ModuleSpec, load_module_spec
from tfhub.tf1.tensor_info import ParsedTensorInfo

__all__ = [
    "ImageModuleInfo",
    "Module",
    "ModuleSpec",
    "ParsedTensorInfo",
    "add_signature",
    "attach_image_module_info",
    "attach_message",
    "create_module_spec",
    "eval_function_for_module",
    "get_expected_image_size",
    "get_num_image_channels",
    "load_module_spec",
]
