"""What endpoints get from the app: the shared :class:`~tfhub.server.context.HubContext`,
the caller (:class:`~tfhub.server.access.Viewer`) and the hub's public URLs.

The JSON API knows callers by ``Authorization: Bearer`` only (:data:`ViewerDep`). What a
browser reads (pages, and archives through the hub URL protocol) also accepts the pages'
login cookie (:data:`ReaderDep`): a token kept by ``/login``. The cookie is
``SameSite=Strict`` and these reads are GET/HEAD only.

Example (in an endpoint)::

    def endpoint(request: Request, viewer: ViewerDep) -> dict[str, Any]:
        hub, urls = hub_of(request), urls_of(request)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from tfhub.errors import ServerError
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

COOKIE = "tfhub_token"
"""The login cookie of the pages: a publisher's token."""


@dataclass(frozen=True)
class Reader:
    """The viewer, and whether the request's login cookie must be removed (revoked)."""

    viewer: Viewer
    stale_cookie: bool = False


def reader_of(request: Request) -> Reader:
    """The caller from ``Authorization: Bearer`` (401 if unknown), else from the login
    cookie (a revoked one counts as anonymous)."""
    header = bearer(request.headers.get("authorization"))
    cookie = request.cookies.get(COOKIE)
    if header is None and not cookie:
        return Reader(Viewer())
    with hub_of(request).db.session() as session:
        if header is not None:
            return Reader(viewer_for(session, header))
        try:
            return Reader(viewer_for(session, cookie))
        except ServerError:
            return Reader(Viewer(), stale_cookie=True)


def reader(request: Request) -> Viewer:
    return reader_of(request).viewer


ReaderDep = Annotated[Viewer, Depends(reader)]
