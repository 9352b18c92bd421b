"""The hub's HTML pages: home with search, publisher pages, model pages, login.

* ``/`` (``?q=``, ``format=``, ``tag=``, ``page=``): search by name, publisher, description,
  format and tags, newest first; the publishers.
* ``/<publisher>``: a publisher's models.
* ``/<publisher>/<model>`` (the latest version) and ``/<publisher>/<model>/<version>``
  (without ``?tf-hub-format=``): the model page. The hub URL protocol calls
  :func:`model_page` for these (``app.state.model_page``).
* ``/login``, ``/logout``: keep a publisher's token in a cookie to see its private models.
* ``/static/<name>``: the stylesheet, the copy-button script, the icon.

Pages are rendered on the server (Jinja2, autoescaped); they work without JavaScript.
Unknown or hidden names get an HTML 404 page; so do other errors outside the JSON API
when the request prefers HTML (``/acme/enc/abc``, ``/a/b/c/d``: see
:func:`tfhub.server.app.wants_page`), while programs keep the JSON errors.

Example::

    from tfhub.server import pages
    pages.install(app)        # what tfhub.server.app.include_pages does
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tfhub.errors import ServerError
from tfhub.server import catalog
from tfhub.server.access import Viewer
from tfhub.server.deps import COOKIE, Reader, hub_of, reader_of, urls_of
from tfhub.server.names import check_name
from tfhub.server.page_auth import (
    base_path,
    check_token,
    cookie_secure,
    read_form,
    safe_next,
    same_origin,
)
from tfhub.server.page_model import FORMAT_LABELS
from tfhub.server.page_render import render_page, static_response
from tfhub.server.page_views import card, model_view

PER_PAGE = 20
SEARCH_FORMATS = list(FORMAT_LABELS.items())
"""The format filter's choices (``tf2-saved-model`` also finds Keras SavedModels)."""
_TITLES = {
    400: "Bad request", 401: "Token not accepted", 404: "Not found", 405: "Method not allowed",
    413: "Too large",
}  # fmt: skip


def install(app: FastAPI) -> None:
    """Adds the page routes to ``app`` and makes :func:`model_page` its model page."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/", home, methods=["GET", "HEAD"])
    router.add_api_route("/static/{name}", static, methods=["GET", "HEAD"])
    router.add_api_route("/login", login_form, methods=["GET", "HEAD"])
    router.add_api_route("/login", login, methods=["POST"])
    router.add_api_route("/logout", logout, methods=["POST"])
    router.add_api_route("/{publisher}", publisher_page, methods=["GET", "HEAD"])
    app.include_router(router)
    app.state.model_page = model_page
    app.state.error_page = browser_error


def _context(request: Request, viewer: Viewer, **values: Any) -> dict[str, Any]:
    base = base_path(request)
    path = request.url.path
    if base and not path.startswith(f"{base}/"):
        path = base + path  # behind a proxy that strips the hub's path prefix
    return {"base": base, "path": path, "q": "", "viewer_name": viewer.publisher, **values}


def _page(
    request: Request, who: Reader, template: str, status: int = 200, **values: Any
) -> Response:
    response = render_page(
        template,
        _context(request, who.viewer, **values),
        status=status,
        private=who.viewer.publisher_id is not None,
    )
    if who.stale_cookie:
        response.delete_cookie(COOKIE, path=base_path(request) or "/")
    return response


def error_page(request: Request, error: ServerError, who: Reader | None = None) -> Response:
    """``error`` as an HTML page with its status."""
    who = who or Reader(Viewer())
    title = _TITLES.get(error.status, "Request failed")
    headers = {"WWW-Authenticate": 'Bearer realm="tfhub"'} if error.status == 401 else None
    response = _page(
        request, who, "error.html", error.status, title=title, message=error.message,
        code=error.status,
    )  # fmt: skip
    if headers:
        response.headers.update(headers)
    return response


def browser_error(request: Request, error: ServerError) -> Response:
    """The error page for a request outside the pages' own routes (a mistyped model URL,
    an unknown path) from a browser."""
    try:
        who = reader_of(request)
    except ServerError:
        who = Reader(Viewer())
    return error_page(request, error, who)


def _query(request: Request) -> tuple[str, str, str, int]:
    params = request.query_params
    q = params.get("q", "").strip()[:500]
    fmt = params.get("format", "").strip()
    tag = params.get("tag", "").strip().lower()[:64]
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 1
    return q, fmt if fmt in FORMAT_LABELS else "", tag, page


def home(request: Request) -> Response:
    """Search results (all models, newest first, without a query) and the publishers."""
    q, fmt, tag, page = _query(request)
    try:
        who = reader_of(request)
    except ServerError as e:
        return error_page(request, e)
    query = catalog.Query(q, None, fmt or None, tag or None, page, PER_PAGE)
    with hub_of(request).db.session() as session:
        found = catalog.search(session, who.viewer, query)
        cards = [card(m) for m in found.models]
        publishers = [
            {"name": p.name, "models": n, "private": p.private}
            for p, n in catalog.list_publishers(session, who.viewer)
            if n > 0
        ]
    base = base_path(request)

    def page_url(number: int) -> str:
        values = {"q": q, "format": fmt, "tag": tag, "page": str(number)}
        return f"{base}/?" + urllib.parse.urlencode({k: v for k, v in values.items() if v})

    return _page(
        request, who, "home.html", q=q, format=fmt, tag=tag, formats=SEARCH_FORMATS,
        cards=cards, total=found.total, page=page, pages=math.ceil(found.total / PER_PAGE),
        page_url=page_url, publishers=[] if q or fmt or tag else publishers,
    )  # fmt: skip


def publisher_page(request: Request, publisher: str) -> Response:
    """A publisher's models (404 for unknown or hidden publishers)."""
    who = Reader(Viewer())
    try:
        check_name(publisher, "publisher")
        who = reader_of(request)
        with hub_of(request).db.session() as session:
            found = catalog.find_publisher(session, who.viewer, publisher)
            cards = [card(m, found.name) for m in catalog.publisher_models(session, found)]
            info = {"name": found.name, "description": found.description, "private": found.private}
    except ServerError as e:
        if e.code == "invalid_name":
            e = catalog.not_found(f"publisher {publisher!r}")
        return error_page(request, e, who)
    return _page(request, who, "publisher.html", publisher=info, cards=cards)


def model_page(request: Request, publisher: str, model: str, number: int | None) -> Response:
    """The page of version ``number`` of ``publisher/model`` (None: the latest)."""
    who = Reader(Viewer())
    try:
        who = reader_of(request)
        urls = urls_of(request)
        with hub_of(request).db.session() as session:
            found, version = catalog.find_version(session, who.viewer, publisher, model, number)
            versions = catalog.list_versions(session, found)
            view, inspection = model_view(
                found, version, versions, urls, latest_page=number is None
            )
    except ServerError as e:
        return error_page(request, e, who)
    return _page(request, who, "model.html", m=view, i=inspection)


def static(request: Request, name: str) -> Response:
    return static_response(
        name, request.query_params.get("v"), request.headers.get("if-none-match")
    )


def login_form(request: Request) -> Response:
    base = base_path(request)
    target = safe_next(request.query_params.get("next", ""), base)
    if target.rstrip("/").endswith("/login"):
        target = f"{base}/"
    return _page(request, Reader(Viewer()), "login.html", next=target, error="")


async def login(request: Request) -> Response:
    """Checks the token of the form and keeps it in the login cookie."""
    base = base_path(request)
    if not same_origin(request):
        return error_page(request, ServerError("Log in from this hub's own page.", status=400))
    try:
        form = await read_form(request)
    except ServerError as e:
        return error_page(request, e)
    token, target = form.get("token", "").strip(), safe_next(form.get("next", ""), base)
    try:
        if not token:
            raise ServerError("Enter a token.", status=400)
        await anyio.to_thread.run_sync(check_token, request, token)
    except ServerError as e:
        who = Reader(Viewer())
        return _page(request, who, "login.html", e.status, next=target, error=e.message)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=cookie_secure(request),
        path=base or "/",
    )  # fmt: skip
    return response


async def logout(request: Request) -> Response:
    base = base_path(request)
    if not same_origin(request):
        return error_page(request, ServerError("Log out from this hub's own page.", status=400))
    response = RedirectResponse(f"{base}/", status_code=303)
    response.delete_cookie(COOKIE, path=base or "/")
    return response
