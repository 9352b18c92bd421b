"""The one exception tree of tfhub.

Every error tfhub raises derives from :class:`HubError`. Subclasses also inherit the
matching builtin, so ``except FileNotFoundError`` still catches a missing model::

    HubError (Exception)
    ├── ConfigError (ValueError)              a setting or environment variable is wrong
    ├── HandleError (ValueError)              a handle cannot be parsed or has no resolver
    ├── ModelNotFoundError (FileNotFoundError) nothing at that handle (404, missing path)
    ├── DownloadError (OSError)               network failure, timeout, bad HTTP answer
    │   ├── NotAnArchiveError                 the server answered with something else (HTML...)
    │   └── IntegrityError                    bytes do not match the digest the server sent
    ├── UnsafeArchiveError (ValueError)       a hostile archive was refused before extraction
    ├── ModelFormatError (ValueError)         the files are not a model tfhub can read
    │   └── MissingOpError                    the model needs ops no installed package registers
    ├── CacheError (OSError)                  the cache cannot be used
    │   ├── CorruptCacheError                 a cached model is damaged (files missing/changed)
    │   └── CacheLockTimeoutError (TimeoutError) another process holds the lock too long
    ├── OfflineError (ConnectionError)        TFHUB_OFFLINE=1 and the handle is not cached
    ├── MissingDependencyError (ImportError)  an optional extra is not installed
    ├── ModuleLookupError (ValueError, KeyError) a TF1 Hub module has no such graph variant,
    │                                         signature, output or attached message
    ├── ModuleCallError (TypeError)           inputs do not match a TF1 Hub module signature
    ├── ModuleDefinitionError (ValueError)    a module_fn built what the TF1 Hub format cannot hold
    ├── ExportError (OSError)                 a module cannot be written there (not empty, ...)
    ├── GraphModeError (RuntimeError)         hub.Module used eagerly, or outside its own graph
    ├── ServerError                           a hub server request failed (status, code)
    ├── ConvertError (ValueError)             a TF1 Hub module cannot be converted to TF2, or
    │                                         the result does not compute what it computes
    ├── UnsafeModelError (ValueError)         TFHUB_SCAN=block refused a model with risky ops
    └── LayerConfigError (ValueError)         KerasLayer arguments that do not fit the model
                                              (no such signature or output key, ...)

Example:
    >>> import tfhub
    >>> try:
    ...     tfhub.resolve("/no/such/model")
    ... except tfhub.ModelNotFoundError as e:
    ...     print(type(e).__name__)
    ModelNotFoundError
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "CacheLockTimeoutError",
    "ConfigError",
    "ConvertError",
    "CorruptCacheError",
    "DownloadError",
    "ExportError",
    "GraphModeError",
    "HandleError",
    "HubError",
    "IntegrityError",
    "LayerConfigError",
    "MissingDependencyError",
    "MissingOpError",
    "ModelFormatError",
    "ModelNotFoundError",
    "ModuleCallError",
    "ModuleDefinitionError",
    "ModuleLookupError",
    "NotAnArchiveError",
    "OfflineError",
    "ServerError",
    "UnsafeArchiveError",
    "UnsafeModelError",
]


class HubError(Exception):
    """Base class of every error raised by tfhub."""


class ConfigError(HubError, ValueError):
    """A setting (usually an environment variable) has an invalid value."""


class HandleError(HubError, ValueError):
    """A handle cannot be parsed, or no resolver knows its scheme."""


class ModelNotFoundError(HubError, FileNotFoundError):
    """There is no model at the handle (HTTP 404, a missing path or object)."""


class DownloadError(HubError, OSError):
    """Fetching a model failed: network error, timeout, or an unexpected HTTP answer."""


class NotAnArchiveError(DownloadError):
    """The server answered, but not with a model archive (e.g. an HTML page)."""


class IntegrityError(DownloadError):
    """Downloaded bytes do not match the digest the server announced."""


class UnsafeArchiveError(HubError, ValueError):
    """An archive was refused: path escapes, links out, devices, or size limits."""


class ModelFormatError(HubError, ValueError):
    """The files are not a model tfhub can read (or are damaged)."""


class MissingOpError(ModelFormatError):
    """The model uses TensorFlow ops that no installed package registers."""


class CacheError(HubError, OSError):
    """The cache directory cannot be used."""


class CorruptCacheError(CacheError):
    """A cached model is damaged: files are missing or differ from its manifest."""


class CacheLockTimeoutError(CacheError, TimeoutError):
    """Waiting for another process's lock on a cache entry took too long."""


class OfflineError(HubError, ConnectionError):
    """``TFHUB_OFFLINE`` is set and the handle is not (intact) in the cache."""


class MissingDependencyError(HubError, ImportError):
    """An optional dependency is needed for this handle or feature but is not installed."""


class ModuleLookupError(HubError, ValueError, KeyError):
    """A TF1 Hub module has no such graph variant, signature, output or attached message.

    Also a ``ValueError`` and a ``KeyError``: the original library raised either, depending on
    the call.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModuleCallError(HubError, TypeError):
    """The inputs given to a TF1 Hub module signature do not match it (missing or extra
    names, wrong dtype, shape or kind), or there is no ``default`` output to return."""


class ModuleDefinitionError(HubError, ValueError):
    """A ``module_fn`` built a graph the TF1 Hub format cannot hold: no signature, a bad
    attachment key, collections the format does not support, repeated tag sets."""


class GraphModeError(HubError, RuntimeError):
    """A TF1 graph-mode API (``hub.Module``) was used while executing eagerly, or outside the
    graph it was created in."""


class ExportError(HubError, OSError):
    """A module cannot be exported where asked: the directory exists and is not empty, or
    writing failed."""


class ServerError(HubError):
    """A hub server request failed: refused publishing, missing model, bad token, ...

    Raised inside the server (turned into a JSON error ``{"error": {"code", "message"}}``
    with HTTP ``status``) and by clients such as ``tfhub publish`` (with the server's answer).

    >>> ServerError("No model examples/nope.", status=404, code="not_found").status
    404
    """

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class ConvertError(HubError, ValueError):
    """``tfhub convert`` failed: the source is not a TF1 Hub module (e.g. already a TF2
    SavedModel), or the converted model's outputs or variables differ from the module's beyond
    the tolerance (nothing is left at the destination then)."""


class UnsafeModelError(HubError, ValueError):
    """``TFHUB_SCAN=block`` refused to load a model from a remote handle: the risky-op scan
    found high-severity operations in it (writing files, running Python, ...)."""


class LayerConfigError(HubError, ValueError):
    """The ``KerasLayer`` arguments do not fit the model: no such signature or output key,
    ``output_key`` and ``signature_outputs_as_dict`` both or neither set with a signature,
    an ``output_shape`` that does not match, ``trainable=True`` through a signature, ...

    >>> issubclass(LayerConfigError, ValueError)
    True
    """
