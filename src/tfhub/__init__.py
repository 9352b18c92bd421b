"""tfhub: publish, find, load, fine-tune and convert reusable TensorFlow model pieces.

``import tfhub`` never imports TensorFlow; the parts that build graphs and layers load it
on first use.

Example:
    >>> import tempfile, tfhub
    >>> model_dir = tempfile.mkdtemp()
    >>> tfhub.resolve(model_dir) == model_dir
    True
"""

from tfhub._version import __version__
from tfhub.core.cache import Cache
from tfhub.core.handle import Handle
from tfhub.errors import (
    CacheError,
    CacheLockTimeoutError,
    ConfigError,
    ConvertError,
    CorruptCacheError,
    DownloadError,
    ExportError,
    GraphModeError,
    HandleError,
    HubError,
    IntegrityError,
    LayerConfigError,
    MissingDependencyError,
    MissingOpError,
    ModelFormatError,
    ModelNotFoundError,
    ModuleCallError,
    ModuleDefinitionError,
    ModuleLookupError,
    NotAnArchiveError,
    OfflineError,
    ServerError,
    UnsafeArchiveError,
    UnsafeModelError,
)
from tfhub.hub import Hub, check_reusable_saved_model, resolve

# Parts that import TensorFlow, loaded on first attribute access.
_LAZY = {
    "load": ("tfhub.tf.load", "load"),
    "KerasLayer": ("tfhub.tf.keras_layer", "KerasLayer"),
    # The TF1 Hub format API (graph mode; creation also from eager TF2).
    "Module": ("tfhub.tf1.module", "Module"),
    "ModuleSpec": ("tfhub.tf1.spec", "ModuleSpec"),
    "load_module_spec": ("tfhub.tf1.spec", "load_module_spec"),
    "create_module_spec": ("tfhub.tf1.create", "create_module_spec"),
    "add_signature": ("tfhub.tf1.definition", "add_signature"),
    "attach_message": ("tfhub.tf1.definition", "attach_message"),
    "eval_function_for_module": ("tfhub.tf1.eval_fn", "eval_function_for_module"),
    "get_expected_image_size": ("tfhub.tf1.image_util", "get_expected_image_size"),
    "get_num_image_channels": ("tfhub.tf1.image_util", "get_num_image_channels"),
    "attach_image_module_info": ("tfhub.tf1.image_util", "attach_image_module_info"),
    "ImageModuleInfo": ("tfhub.tf1.image_util", "ImageModuleInfo"),
    # TF1 Hub module -> TF2 Reusable SavedModel.
    "convert": ("tfhub.tf1.convert", "convert"),
    # TF-free, loaded on first use to keep `import tfhub` small.
    "inspect": ("tfhub.inspection", "inspect"),
}


_SUBMODULES = ("keras3", "tf_keras")


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"tfhub.{name}")
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfhub' has no attribute {name!r}")


__all__ = [
    "Cache",
    "CacheError",
    "CacheLockTimeoutError",
    "ConfigError",
    "ConvertError",
    "CorruptCacheError",
    "DownloadError",
    "ExportError",
    "GraphModeError",
    "Handle",
    "HandleError",
    "Hub",
    "HubError",
    "ImageModuleInfo",
    "IntegrityError",
    "KerasLayer",
    "LayerConfigError",
    "MissingDependencyError",
    "MissingOpError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Module",
    "ModuleCallError",
    "ModuleDefinitionError",
    "ModuleLookupError",
    "ModuleSpec",
    "NotAnArchiveError",
    "OfflineError",
    "ServerError",
    "UnsafeArchiveError",
    "UnsafeModelError",
    "__version__",
    "add_signature",
    "attach_image_module_info",
    "attach_message",
    "check_reusable_saved_model",
    "convert",
    "create_module_spec",
    "eval_function_for_module",
    "get_expected_image_size",
    "get_num_image_channels",
    "inspect",
    "keras3",
    "load",
    "load_module_spec",
    "resolve",
    "tf_keras",
]
