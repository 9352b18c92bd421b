"""The resolver interface and the registry that finds one per URL scheme.

Example:
    >>> registry = ResolverRegistry()
    >>> type(registry.get("https")).__name__
    'HttpResolver'
    >>> registry.register("demo", "tfhub.resolvers.local:LocalResolver")
    >>> sorted(registry.schemes())[:3]
    ['demo', 'file', 'gs']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tfhub.config import Settings
from tfhub.core.cache import Cache
from tfhub.core.handle import Handle
from tfhub.errors import HandleError, MissingDependencyError

if TYPE_CHECKING:
    import httpx


class Resolver(Protocol):
    """Turns a handle into a path a model can be read from."""

    def resolve(self, handle: Handle, context: Context) -> str:
        """Returns the model's directory (local, or a storage URL read in place)."""
        ...


@dataclass
class Context:
    """What a resolver may use during one ``resolve`` call."""

    settings: Settings
    cache: Cache
    registry: ResolverRegistry
    _client: httpx.Client | None = field(default=None, repr=False)

    def http(self) -> httpx.Client:
        """The HTTP client for this call (created on first use)."""
        if self._client is None:
            from tfhub.core.http import make_client

            self._client = make_client(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def resolve(self, handle: Handle) -> str:
        """Resolves another handle (e.g. a redirect target) with the same settings."""
        return self.registry.get(handle.scheme).resolve(handle, self)


_DEFAULTS = {
    "file": "tfhub.resolvers.local:LocalResolver",
    "http": "tfhub.resolvers.http:HttpResolver",
    "https": "tfhub.resolvers.http:HttpResolver",
    "gs": "tfhub.resolvers.object_store:ObjectStoreResolver",
    "s3": "tfhub.resolvers.object_store:ObjectStoreResolver",
}


class ResolverRegistry:
    """Maps URL schemes to resolvers, importing each one the first time it is used."""

    def __init__(self, table: dict[str, str | Resolver] | None = None) -> None:
        self._table: dict[str, str | Resolver] = {**_DEFAULTS, **(table or {})}
        self._loaded: dict[str, Resolver] = {}

    def register(self, scheme: str, target: str | Resolver) -> None:
        """Adds or replaces the resolver of ``scheme``: a ``"module:Class"`` or an instance."""
        self._table[scheme.lower()] = target
        self._loaded.pop(scheme.lower(), None)

    def schemes(self) -> list[str]:
        return list(self._table)

    def get(self, scheme: str) -> Resolver:
        """The resolver for ``scheme``; raises :class:`~tfhub.HandleError` if there is none."""
        resolver = self._loaded.get(scheme)
        if resolver is not None:
            return resolver
        target = self._table.get(scheme)
        if target is None:
            raise HandleError(
                f"No resolver for {scheme}:// handles. Known schemes: "
                f"{', '.join(sorted(self._table))}. Register one with Hub.resolvers.register()."
            )
        if isinstance(target, str):
            module_name, _, class_name = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as e:
                raise MissingDependencyError(
                    f"The resolver for {scheme}:// ({target}) cannot be imported: {e}."
                ) from e
            resolver = getattr(module, class_name)()
        else:
            resolver = target
        self._loaded[scheme] = resolver
        return resolver
