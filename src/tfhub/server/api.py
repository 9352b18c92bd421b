"""The JSON API, ``/api/v1/...``: search, publishers, models, versions, and publishing.

Everything the pages show is here; ``/api/v1/openapi.json`` describes it. Errors are
``{"error": {"code": "...", "message": "..."}}`` with the HTTP status.

Example::

    GET  /api/v1/models?q=encoder&format=tf2&tag=text&page=1&per_page=20
    GET  /api/v1/publishers/examples
    GET  /api/v1/models/examples/tiny-encoder
    GET  /api/v1/models/examples/tiny-encoder/versions/latest
    POST /api/v1/models/research/encoder/versions        (the next version)
    PUT  /api/v1/models/research/encoder/versions/3      (exactly version 3; 409 if it exists)
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from tfhub.errors import ServerError
from tfhub.server import catalog
from tfhub.server.deps import ViewerDep, hub_of, urls_of
from tfhub.server.names import check_name, parse_version
from tfhub.server.pipeline import PublishRequest, check_request, publish
from tfhub.server.upload import ARCHIVE_TYPES, receive
from tfhub.server.versions import precheck
from tfhub.server.views import model_detail, model_summary, publisher_detail, version_detail

logger = logging.getLogger("tfhub.server")
router = APIRouter(prefix="/api/v1", tags=["api"])
PUBLISHING_AT_ONCE = 2
"""Publishes checked and packed at once per app (each is CPU- and disk-heavy); more wait."""


def _limiter(request: Request) -> anyio.CapacityLimiter:
    limiter = getattr(request.app.state, "publish_limiter", None)
    if limiter is None:  # one per app (and so per event loop), made on first use
        limiter = request.app.state.publish_limiter = anyio.CapacityLimiter(PUBLISHING_AT_ONCE)
    assert isinstance(limiter, anyio.CapacityLimiter)
    return limiter


@router.get("/models", summary="Search models")
def search_models(
    request: Request,
    viewer: ViewerDep,
    q: Annotated[
        str,
        Query(
            description="words matched in publisher, name, description, format, tags",
            max_length=500,
        ),
    ] = "",
    publisher: str | None = None,
    format: Annotated[
        str | None,
        Query(
            description="tf2-saved-model, keras-saved-model, tf1-hub-module, tf1-saved-model, "
            "or a prefix (tf1); tf2-saved-model and its prefixes also match Keras SavedModels"
        ),
    ] = None,
    tag: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=catalog.MAX_PER_PAGE)] = 20,
) -> dict[str, Any]:
    """Models the caller may see, newest first; all words of ``q`` must match."""
    query = catalog.Query(q, publisher, format, tag, page, per_page)
    urls = urls_of(request)
    with hub_of(request).db.session() as session:
        found = catalog.search(session, viewer, query)
        models = [model_summary(m, urls) for m in found.models]
    return {"models": models, "total": found.total, "page": page, "per_page": per_page}


@router.get("/publishers", summary="List publishers")
def list_publishers(request: Request, viewer: ViewerDep) -> dict[str, Any]:
    urls = urls_of(request)
    with hub_of(request).db.session() as session:
        rows = catalog.list_publishers(session, viewer)
        publishers = [
            {
                "name": p.name,
                "description": p.description,
                "private": p.private,
                "models": n,
                "api": urls.api(f"/publishers/{p.name}"),
            }
            for p, n in rows
        ]
    return {"publishers": publishers}


@router.get("/publishers/{publisher}", summary="A publisher and its models")
def get_publisher(request: Request, viewer: ViewerDep, publisher: str) -> dict[str, Any]:
    with hub_of(request).db.session() as session:
        found = catalog.find_publisher(session, viewer, publisher)
        return publisher_detail(found, catalog.publisher_models(session, found), urls_of(request))


@router.get("/models/{publisher}/{model}", summary="A model and its versions")
def get_model(request: Request, viewer: ViewerDep, publisher: str, model: str) -> dict[str, Any]:
    with hub_of(request).db.session() as session:
        found = catalog.find_model(session, viewer, publisher, model)
        return model_detail(found, catalog.list_versions(session, found), urls_of(request))


@router.get(
    "/models/{publisher}/{model}/versions/{version}",
    summary="One version: format, sizes, archives, README, inspection report, snippets",
)
def get_version(
    request: Request, viewer: ViewerDep, publisher: str, model: str, version: str
) -> dict[str, Any]:
    """``version`` is a number or ``latest``."""
    number = None if version == "latest" else parse_version(version)
    with hub_of(request).db.session() as session:
        found, row = catalog.find_version(session, viewer, publisher, model, number)
        return version_detail(found, row, urls_of(request))


_PUBLISH_DOC = """Publishes a version. Body: ``multipart/form-data`` with ``archive`` (the model
archive: .tar.gz, .tar.zst or .tar), optional ``readme`` (Markdown), ``description``,
``tags`` (comma-separated); or the bare archive (``Content-Type: application/gzip``).
Needs ``Authorization: Bearer <token>`` of the publisher. 201 with the version; 400 bad
input, 401 no/unknown token, 403 another publisher's token, 409 the version exists, 413 too
large, 422 not a model (``not_a_model``), a model that cannot be inspected
(``uninspectable_model``: every version is inspected and scanned for risky ops first) or an
unsafe archive."""


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_ERROR = {"description": 'Error: {"error": {"code": "...", "message": "..."}}'}
_PUBLISH_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["archive"],
                    "properties": {
                        "archive": {"type": "string", "format": "binary"},
                        "readme": {"type": "string", "description": "Markdown"},
                        "description": {"type": "string", "maxLength": 1000},
                        "tags": {"type": "string", "description": "comma-separated"},
                    },
                }
            },
            **{media: _BINARY for media in ARCHIVE_TYPES},
        },
    },
    "responses": {
        "201": {"description": "The published version, as GET .../versions/{version}"},
        **{str(status): _ERROR for status in (400, 401, 403, 409, 413, 415, 422)},
    },
}


@router.post(
    "/models/{publisher}/{model}/versions",
    summary="Publish the next version",
    description=_PUBLISH_DOC,
    status_code=201,
    openapi_extra=_PUBLISH_OPENAPI,
)
async def publish_next(
    request: Request, viewer: ViewerDep, publisher: str, model: str
) -> JSONResponse:
    return await _publish(request, viewer, publisher, model, None)


@router.put(
    "/models/{publisher}/{model}/versions/{version}",
    summary="Publish exactly this version",
    description=_PUBLISH_DOC,
    status_code=201,
    openapi_extra=_PUBLISH_OPENAPI,
)
async def publish_version(
    request: Request, viewer: ViewerDep, publisher: str, model: str, version: str
) -> JSONResponse:
    return await _publish(request, viewer, publisher, model, parse_version(version))


async def _publish(
    request: Request, viewer: ViewerDep, publisher: str, model: str, number: int | None
) -> JSONResponse:
    hub = hub_of(request)
    check_name(publisher, "publisher")
    check_name(model, "model")
    probe = PublishRequest(publisher, model, number, "")
    await anyio.to_thread.run_sync(precheck, hub, viewer, probe)  # 401/403/409 before the body
    work = tempfile.mkdtemp(prefix="tfhub-upload-", dir=hub.settings.work_dir)
    try:
        try:
            fields = await receive(request, hub.settings, work)
        except ClientDisconnect:
            logger.info("upload to %s/%s cancelled: the client disconnected", publisher, model)
            raise ServerError("The client disconnected.", code="client_disconnected") from None
        publish_request = check_request(
            PublishRequest(
                publisher,
                model,
                number,
                fields.archive,
                readme=fields.readme,
                description=fields.description,
                tags=tuple(fields.tags) if fields.tags is not None else None,
            )
        )
        published = await anyio.to_thread.run_sync(
            publish, hub, viewer, publish_request, limiter=_limiter(request)
        )
    finally:
        await anyio.to_thread.run_sync(shutil.rmtree, work, True)

    def detail() -> dict[str, Any]:
        with hub.db.session() as session:
            found, row = catalog.find_version(session, viewer, publisher, model, published)
            return version_detail(found, row, urls_of(request))

    body = await anyio.to_thread.run_sync(detail)
    return JSONResponse(body, status_code=201, headers={"Location": body["handle"]})
