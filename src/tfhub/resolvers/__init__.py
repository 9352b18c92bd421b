"""Resolvers turn a parsed handle into a local model directory (or an in-place location).

They are looked up by URL scheme in a :class:`ResolverRegistry`: a table of
``scheme -> "module:Class"`` owned by a :class:`~tfhub.Hub`, imported on first use.
"""

from tfhub.resolvers.base import Context, Resolver, ResolverRegistry

__all__ = ["Context", "Resolver", "ResolverRegistry"]
