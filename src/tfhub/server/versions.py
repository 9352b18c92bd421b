"""The database side of publishing: the checks before an upload is read, and the one
transaction that makes a staged version visible.

Versions are immutable: ``(model, number)`` is unique, so a second publish of the same
version fails in the database itself (HTTP 409), whichever server process gets there
first. Without a number, the next one is taken (retried if another process took it).

Example (``hub``, ``viewer``, ``request``, ``staged`` from :mod:`tfhub.server.pipeline`)::

    precheck(hub, viewer, request)       # 401/403/409 before the body is read
    number = commit_version(hub, viewer, request, staged)
"""

from __future__ import annotations

import json

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tfhub.errors import ServerError
from tfhub.server.access import Viewer
from tfhub.server.context import HubContext
from tfhub.server.db import Model, ModelTag, Publisher, Version, utcnow
from tfhub.server.markdown import summary
from tfhub.server.pipeline import PublishRequest, Staged, check_tags

_ATTEMPTS = 8


def conflict(request: PublishRequest, number: int) -> ServerError:
    name = f"{request.publisher}/{request.model}/{number}"
    return ServerError(
        f"{name} already exists, and versions are immutable. Publish a new version (omit the "
        "version number to get the next one).",
        status=409,
        code="version_exists",
    )


def _publisher(session: Session, name: str) -> Publisher | None:
    return session.scalar(select(Publisher).where(Publisher.name == name))


def _exists(session: Session, publisher_id: int, model: str, number: int) -> bool:
    found = session.scalar(
        select(Version.id)
        .join(Model)
        .where(Model.publisher_id == publisher_id, Model.name == model, Version.number == number)
    )
    return found is not None


def precheck(hub: HubContext, viewer: Viewer, request: PublishRequest) -> None:
    """What can be refused before the upload is read: the token (401/403) and an explicit
    version that exists already (409)."""
    with hub.db.session() as session:
        publisher = viewer.require_publisher(
            _publisher(session, request.publisher), request.publisher
        )
        if request.version is not None and _exists(
            session, publisher.id, request.model, request.version
        ):
            raise conflict(request, request.version)


def commit_version(hub: HubContext, viewer: Viewer, request: PublishRequest, staged: Staged) -> int:
    """Adds the version in one transaction; returns its number.

    Raises:
        ServerError: 409 if the version exists; 401/403 if the token lost its rights.
    """
    for _ in range(_ATTEMPTS):
        with hub.db.session() as session:
            try:
                number = _insert(session, viewer, request, staged)
                session.commit()
                return number
            except IntegrityError:
                session.rollback()
                publisher = _publisher(session, request.publisher)
                if (
                    request.version is not None
                    and publisher is not None
                    and _exists(session, publisher.id, request.model, request.version)
                ):
                    raise conflict(request, request.version) from None
                # Another process created the model or took the next number: try again.
    raise ServerError(
        "The hub is too busy publishing to this model; try again.", status=503, code="busy"
    )


def _model(session: Session, publisher: Publisher, name: str) -> Model:
    model = session.scalar(
        select(Model).where(Model.publisher_id == publisher.id, Model.name == name)
    )
    if model is None:
        model = Model(publisher_id=publisher.id, name=name, description="", format="")
        model.latest_version = 0
        session.add(model)
        session.flush()  # IntegrityError if another process just created it
    return model


def _insert(session: Session, viewer: Viewer, request: PublishRequest, staged: Staged) -> int:
    publisher = viewer.require_publisher(_publisher(session, request.publisher), request.publisher)
    model = _model(session, publisher, request.model)
    number = request.version
    if number is None:
        latest = session.scalar(
            select(func.max(Version.number)).where(Version.model_id == model.id)
        )
        number = (latest or 0) + 1
    now = utcnow()
    session.add(
        Version(
            model_id=model.id,
            number=number,
            created_at=now,
            format=staged.inspected.format,
            unpacked_bytes=staged.unpacked_bytes,
            file_count=staged.file_count,
            storage_prefix=staged.prefix,
            model_key=staged.model_key,
            gzip_key=staged.gzip[0],
            gzip_bytes=staged.gzip[1],
            gzip_sha256=staged.gzip[2],
            zstd_key=staged.zstd[0],
            zstd_bytes=staged.zstd[1],
            zstd_sha256=staged.zstd[2],
            readme=request.readme,
            inspect_json=json.dumps(staged.inspected.report, sort_keys=True),
        )
    )
    session.flush()  # IntegrityError if the number is taken
    # The latest version's format, atomically (a concurrent older version cannot win).
    session.execute(
        update(Model)
        .where(Model.id == model.id, Model.latest_version < number)
        .values(latest_version=number, format=staged.inspected.format, updated_at=now)
    )
    _describe(session, model, request)
    return number


def _describe(session: Session, model: Model, request: PublishRequest) -> None:
    """Sets the model's description and tags from the request (or the README)."""
    if request.description is not None:
        model.description = request.description.strip()
    elif not model.description and request.readme:
        model.description = summary(request.readme)
    tags = check_tags(request.tags)
    if tags is not None:
        model.tags = [ModelTag(tag=t) for t in tags]
