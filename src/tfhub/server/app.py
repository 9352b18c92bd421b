"""The web app: ``create_app(settings)`` builds it (FastAPI), ``app_from_env()`` for workers.

Routes, in the order they are matched:

1. ``/api/v1/...``: the JSON API and publishing (:mod:`tfhub.server.api`);
   ``/api/v1/openapi.json`` describes it. ``/healthz``: 200 when the database answers.
2. the HTML pages, if :mod:`tfhub.server.pages` is installed (see :func:`include_pages`);
3. ``/<publisher>/<model>[/<version>]``: the hub URL protocol (:mod:`tfhub.server.protocol`).

The app keeps no state of its own (everything is in the database and the store), so any
number of processes can serve the same hub. It imports neither TensorFlow nor anything
that does.

Example:
    >>> import tempfile
    >>> from tfhub.server.settings import ServerSettings
    >>> from tfhub.server.context import HubContext
    >>> hub = HubContext.open(ServerSettings.from_env({}, data_dir=tempfile.mkdtemp()))
    >>> hub.db.migrate()
    >>> app = create_app(hub=hub)
    >>> app.openapi_url
    '/api/v1/openapi.json'
    >>> hub.close()
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tfhub._version import __version__
from tfhub.errors import ServerError
from tfhub.server import api, protocol
from tfhub.server.accept import prefers_html
from tfhub.server.context import HubContext
from tfhub.server.deps import hub_of
from tfhub.server.settings import ServerSettings
from tfhub.server.views import API

logger = logging.getLogger("tfhub.server")

PAGES_MODULE = "tfhub.server.pages"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def wants_page(request: Request) -> bool:
    """Whether an error should be an HTML page: the pages are installed, the request is
    not for the JSON API, and it prefers ``text/html`` (a browser)."""
    if getattr(request.app.state, "error_page", None) is None:
        return False
    path = request.url.path
    root = str(request.scope.get("root_path") or "").rstrip("/")
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    if path == API or path.startswith(API + "/"):
        return False
    return prefers_html(request.headers.get("accept"))


def _error(
    request: Request, error: ServerError, headers: Mapping[str, str] | None = None
) -> Response:
    """``error`` as JSON, or as the pages' HTML error page for a browser."""
    if wants_page(request):
        response: Response = request.app.state.error_page(request, error)
        response.headers.update(headers or {})
        return response
    if error.status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="tfhub"'}
    return JSONResponse(error_body(error.code, error.message), error.status, headers=headers)


def _server_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServerError)
    return _error(request, exc)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = "No such page or API endpoint." if exc.status_code == 404 else str(exc.detail)
    error = ServerError(message, status=exc.status_code, code=code)
    return _error(request, error, exc.headers)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return _error(request, ServerError(f"Invalid request: {problems}", code="invalid"))


def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("internal", "The hub failed to answer; its log says why."), status_code=500
    )


def include_pages(app: FastAPI) -> bool:
    """Installs the HTML pages if :mod:`tfhub.server.pages` exists; returns whether it did.

    The pages module provides ``install(app)``, which adds its routes (home, search,
    publisher pages, static files) and sets ``app.state.model_page`` to a function
    ``(request, publisher, model, version_or_None) -> Response`` that the hub URL
    protocol calls for model URLs without ``tf-hub-format``, and ``app.state.error_page``
    to a function ``(request, ServerError) -> Response``: errors outside the JSON API are
    shown with it when the request prefers HTML (a browser; programs keep JSON). Without
    the module, ``/`` and ``/<publisher>`` answer with pointers into the JSON API.
    """
    try:
        pages = importlib.import_module(PAGES_MODULE)
    except ModuleNotFoundError as e:
        if e.name != PAGES_MODULE:
            raise
        _add_fallbacks(app)
        return False
    pages.install(app)
    return True


def _add_fallbacks(app: FastAPI) -> None:
    app.add_api_route("/", _home_fallback, methods=["GET"], include_in_schema=False)


def _home_fallback() -> dict[str, Any]:
    return {
        "detail": "This hub serves no HTML pages; use the JSON API.",
        "api": f"{API}/models",
        "openapi": f"{API}/openapi.json",
    }


def _healthz(request: Request) -> Response:
    ok = hub_of(request).db.ping()
    return JSONResponse({"ok": ok}, status_code=200 if ok else 503)


def create_app(
    settings: ServerSettings | None = None, *, hub: HubContext | None = None, pages: bool = True
) -> FastAPI:
    """The hub's ASGI app for ``settings`` (or an open ``hub``); ``pages=False`` leaves the
    HTML pages out (an API-only hub).

    Raises:
        ConfigError: the database schema is not at the newest revision (run
            ``tfhub server migrate``), or the database cannot be reached.
    """
    if hub is None:
        hub = HubContext.open(settings or ServerSettings.from_env())
    hub.db.require_current()
    opened = hub

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        opened.close()

    app = FastAPI(
        title="tfhub",
        version=__version__,
        summary="A self-hosted TensorFlow Hub: the hub URL protocol and its JSON API.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.model_page = None
    app.state.error_page = None
    app.add_exception_handler(ServerError, _server_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(api.router)
    app.add_api_route("/healthz", _healthz, methods=["GET"], include_in_schema=False)
    if pages:
        include_pages(app)  # before the protocol's catch-all /{publisher}/{model}
    else:
        _add_fallbacks(app)
    app.include_router(protocol.router)
    return app


def app_from_env() -> FastAPI:
    """The app for settings from the environment (the factory ``tfhub serve`` gives Granian)."""
    return create_app(ServerSettings.from_env())
