"""What endpoints get from the app: the shared :class:`~tfhub.server.context.HubContext`,
the caller (:class:`~tfhub.server.access.Viewer`) and the hub's public URLs.

Example (in an endpoint)::

    def endpoint(request: Request, viewer: ViewerDep) -> dict[str, Any]:
        hub, urls = hub_of(request), urls_of(request)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from tfhub.server.access import Viewer, bearer, viewer_for
from tfhub.server.context import HubContext
from tfhub.server.views import Urls


def hub_of(request: Request) -> HubContext:
    hub = request.app.state.hub
    assert isinstance(hub, HubContext)
    return hub


def urls_of(request: Request) -> Urls:
    """URLs under ``--public-url`` if set, else under the address the request came to."""
    public = hub_of(request).settings.public_url
    return Urls(public or str(request.base_url))


def viewer(request: Request) -> Viewer:
    """The caller, from ``Authorization: Bearer``; 401 for an unknown token."""
    token = bearer(request.headers.get("authorization"))
    if token is None:
        return Viewer()
    with hub_of(request).db.session() as session:
        return viewer_for(session, token)


ViewerDep = Annotated[Viewer, Depends(viewer)]
