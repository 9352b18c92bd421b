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
    CorruptCacheError,
    DownloadError,
    HandleError,
    HubError,
    IntegrityError,
    MissingDependencyError,
    MissingOpError,
    ModelFormatError,
    ModelNotFoundError,
    NotAnArchiveError,
    OfflineError,
    UnsafeArchiveError,
)
from tfhub.hub import Hub, check_reusable_saved_model, resolve

# Parts that import TensorFlow, loaded on first attribute access.
_LAZY = {
    "load": ("tfhub.tf.load", "load"),
    "KerasLayer": ("tfhub.tf.keras_layer", "KerasLayer"),
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
    "CorruptCacheError",
    "DownloadError",
    "Handle",
    "HandleError",
    "Hub",
    "HubError",
    "IntegrityError",
    "KerasLayer",
    "MissingDependencyError",
    "MissingOpError",
    "ModelFormatError",
    "ModelNotFoundError",
    "NotAnArchiveError",
    "OfflineError",
    "UnsafeArchiveError",
    "__version__",
    "check_reusable_saved_model",
    "load",
    "resolve",
]
