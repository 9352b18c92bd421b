"""The hub URL protocol that every TF Hub client speaks.

* ``GET /<publisher>/<model>[/<version>]?tf-hub-format=compressed``: the model archive, with
  ``Content-Length``, a strong ``ETag`` (the archive's sha256), ``Last-Modified``,
  ``Range``/``If-Range``, ``If-None-Match``/``If-Modified-Since`` (304) and HEAD. Old clients
  get the ``.tar.gz``; a request with ``Accept: application/zstd`` (tfhub's client sends
  it) gets the ``.tar.zst`` of the same version, which unpacks several times faster.
* ``?tf-hub-format=uncompressed``: ``303 See Other`` to the stored model folder
  (``file://...`` or ``s3://...``), also written in the body (the original client reads it
  from there).
* Without a version: the latest one. Without ``tf-hub-format``: the model's page.
* Private models need a token of their publisher: ``Authorization: Bearer`` (programs) or
  the pages' login cookie (a logged-in browser following the page's archive link);
  without one they answer 404.

Example::

    curl -LO 'http://127.0.0.1:8080/examples/tiny-encoder/1?tf-hub-format=compressed'
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tfhub.errors import ServerError
from tfhub.server import catalog
from tfhub.server.accept import ZSTD, wants_zstd
from tfhub.server.access import Viewer
from tfhub.server.db import Model, Version
from tfhub.server.deps import ReaderDep, hub_of
from tfhub.server.names import parse_version
from tfhub.server.ranges import http_date, plan
from tfhub.server.responses import StoredFileResponse
from tfhub.server.views import API

router = APIRouter(tags=["hub URL protocol"])
Format = Annotated[
    str | None,
    Query(alias="tf-hub-format", description="compressed (the archive) or uncompressed (303)"),
]
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get("/{publisher}/{model}", summary="The latest version (archive, 303 or page)")
def latest(
    request: Request, viewer: ReaderDep, publisher: str, model: str, fmt: Format = None
) -> Response:
    """``?tf-hub-format=compressed``: the archive of the latest version (gzip; zstd with
    ``Accept: application/zstd``), with ``Range``, ``If-None-Match`` and HEAD. ``uncompressed``:
    303 to the stored folder. No parameter: the model page."""
    return serve(request, viewer, publisher, model, None, fmt)


@router.get("/{publisher}/{model}/{version}", summary="A pinned version (archive, 303 or page)")
def pinned(
    request: Request,
    viewer: ReaderDep,
    publisher: str,
    model: str,
    version: str,
    fmt: Format = None,
) -> Response:
    """As the latest version, for version ``version`` (immutable: cached for a year)."""
    return serve(request, viewer, publisher, model, parse_version(version), fmt)


router.add_api_route("/{publisher}/{model}", latest, methods=["HEAD"], include_in_schema=False)
router.add_api_route(
    "/{publisher}/{model}/{version}", pinned, methods=["HEAD"], include_in_schema=False
)


def serve(
    request: Request,
    viewer: Viewer,
    publisher: str,
    model: str,
    number: int | None,
    fmt: str | None,
) -> Response:
    if fmt is None:
        return page(request, viewer, publisher, model, number)
    fmt = fmt.lower()
    if fmt not in ("compressed", "uncompressed"):
        raise ServerError(
            f"Unknown tf-hub-format {fmt!r}; use compressed (the archive) or uncompressed.",
            code="invalid",
        )
    hub = hub_of(request)
    with hub.db.session() as session:
        found, version = catalog.find_version(session, viewer, publisher, model, number)
    if fmt == "uncompressed":
        location = hub.storage.location(version.model_key)
        headers = {"Location": location, "Cache-Control": "no-cache"}
        return Response(location, status_code=303, headers=headers, media_type="text/plain")
    return archive(request, found, version, latest=number is None)


def _cache_control(model: Model, latest: bool) -> str:
    if model.publisher.private:
        return "private, no-cache"
    return "public, no-cache" if latest else IMMUTABLE


def archive(request: Request, model: Model, version: Version, *, latest: bool) -> Response:
    """The archive of ``version`` (or the part, 304 or 416 the request's headers ask for)."""
    use_zstd = version.zstd_key is not None and wants_zstd(request.headers.get("accept"))
    if use_zstd:
        key, size, sha256 = version.zstd_key, version.zstd_bytes, version.zstd_sha256
        media, suffix = ZSTD, "tar.zst"
    else:
        key, size, sha256 = version.gzip_key, version.gzip_bytes, version.gzip_sha256
        media, suffix = "application/gzip", "tar.gz"
    assert key is not None and size is not None and sha256 is not None
    etag, modified = f'"{sha256}"', version.created_at.timestamp()
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Cache-Control": _cache_control(model, latest),
        "Vary": "Accept",
        "X-Tfhub-Version": str(version.number),
    }
    answer = plan(request.headers, size=size, etag=etag, modified=modified)
    if answer.status == 304:
        return Response(status_code=304, headers=headers)
    if answer.status == 416:
        message = (
            f"The range {request.headers.get('range')!r} is outside the archive ({size} bytes)."
        )
        return JSONResponse(
            {"error": {"code": "range_not_satisfiable", "message": message}},
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    name = f"{model.publisher.name}-{model.name}-{version.number}.{suffix}"
    headers.update(
        {
            "Accept-Ranges": "bytes",
            "Content-Length": str(answer.length),
            "Content-Disposition": f'attachment; filename="{name}"',
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
        }
    )
    if answer.status == 206:
        end = answer.start + answer.length - 1
        headers["Content-Range"] = f"bytes {answer.start}-{end}/{size}"
    if request.method == "HEAD":
        return Response(status_code=answer.status, headers=headers, media_type=media)
    storage = hub_of(request).storage
    return StoredFileResponse(
        storage, key, start=answer.start, length=answer.length,
        status_code=answer.status, headers=headers, media_type=media,
    )  # fmt: skip


def page(
    request: Request, viewer: Viewer, publisher: str, model: str, number: int | None
) -> Response:
    """The model's page: the pages module's, or (without it) a pointer to the JSON API."""
    render: Any = getattr(request.app.state, "model_page", None)
    if render is not None:
        response: Response = render(request, publisher, model, number)
        return response
    with hub_of(request).db.session() as session:
        catalog.find_version(session, viewer, publisher, model, number)  # 404 if not visible
    body: dict[str, Any] = {
        "detail": "This hub serves no HTML pages; the model's data is in the JSON API. Add "
        "?tf-hub-format=compressed to this URL for the model archive.",
        "api": f"{API}/models/{publisher}/{model}",
    }
    if number is not None:
        body["version_api"] = f"{API}/models/{publisher}/{model}/versions/{number}"
    return JSONResponse(body)
