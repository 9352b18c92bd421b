"""tfhub: publish, find, load, fine-tune and convert reusable TensorFlow model pieces.

``import tfhub`` never imports TensorFlow; the parts that build graphs and layers load it
on first use.

Example:
    >>> import sys, tfhub
    >>> "tensorflow" in sys.modules
    False
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
    ModelNotFoundError,
    NotAnArchiveError,
    OfflineError,
    UnsafeArchiveError,
)
from tfhub.hub import Hub, resolve

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
    "MissingDependencyError",
    "ModelNotFoundError",
    "NotAnArchiveError",
    "OfflineError",
    "UnsafeArchiveError",
    "__version__",
    "resolve",
]
