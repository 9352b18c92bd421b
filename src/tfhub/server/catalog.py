"""Finding publishers, models and versions a viewer may see, and search.

Everything the JSON API and the pages show comes from here. A private publisher's
models are invisible (404, absent from lists) to anyone without its token.

Example (``session`` a database session, ``viewer`` from :mod:`tfhub.server.access`)::

    model, version = find_version(session, viewer, "examples", "tiny-encoder", None)
    found = search(session, viewer, Query(text="encoder", format="tf2"))  # Keras ones too
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, contains_eager, defer, selectinload

from tfhub.errors import ServerError
from tfhub.server.access import Viewer
from tfhub.server.db import Model, ModelTag, Publisher, Version

MAX_PER_PAGE = 100
MAX_TERMS = 10
TF2_SAVED_MODEL = "tf2-saved-model"
KERAS_SAVED_MODEL = "keras-saved-model"
"""A TF2 SavedModel written by Keras (``tfhub inspect``'s name): a TF2 SavedModel too, so
searches for ``tf2-saved-model`` (or a prefix of it, such as ``tf2``) find it as well."""


def not_found(what: str) -> ServerError:
    return ServerError(
        f"No {what} on this hub. Check the name (names are lowercase), or send a token if it "
        "belongs to a private publisher.",
        status=404,
        code="not_found",
    )


def readable(viewer: Viewer) -> ColumnElement[bool]:
    """SQL: the publisher is public or the viewer's own."""
    if viewer.publisher_id is None:
        return Publisher.private == false()
    return or_(Publisher.private == false(), Publisher.id == viewer.publisher_id)


def find_publisher(session: Session, viewer: Viewer, name: str) -> Publisher:
    publisher = session.scalar(select(Publisher).where(Publisher.name == name))
    if publisher is None or not viewer.can_read(publisher):
        raise not_found(f"publisher {name!r}")
    return publisher


def _model_query(publisher: str, model: str) -> Select[Model]:
    """SQL: the model ``publisher/model`` with its publisher (one join; tags load on use)."""
    return (
        select(Model)
        .join(Publisher)
        .where(Publisher.name == publisher, Model.name == model)
        .options(contains_eager(Model.publisher))
    )


def _visible(found: Model | None, viewer: Viewer, publisher: str, model: str) -> Model:
    if found is None or not viewer.can_read(found.publisher) or found.latest_version < 1:
        raise not_found(f"model {publisher}/{model}")
    return found


def find_model(session: Session, viewer: Viewer, publisher: str, model: str) -> Model:
    return _visible(session.scalar(_model_query(publisher, model)), viewer, publisher, model)


def find_version(
    session: Session, viewer: Viewer, publisher: str, model: str, number: int | None
) -> tuple[Model, Version]:
    """The model and its version ``number`` (None: the latest), in one query (the hub URL
    protocol asks for it on every download)."""
    wanted = Model.latest_version if number is None else number
    row = session.execute(
        _model_query(publisher, model)
        .add_columns(Version)
        .outerjoin(Version, and_(Version.model_id == Model.id, Version.number == wanted))
    ).first()
    found = _visible(row[0] if row else None, viewer, publisher, model)
    version: Version | None = row[1] if row else None
    if version is None:
        number = found.latest_version if number is None else number
        raise not_found(f"version {number} of {publisher}/{model}")
    return found, version


def list_versions(session: Session, model: Model) -> list[Version]:
    """The versions of ``model``, newest first, for listings: their README and report (the
    large columns) load only if read, inside ``session``."""
    query = (
        select(Version)
        .where(Version.model_id == model.id)
        .options(defer(Version.readme), defer(Version.inspect_json))
        .order_by(Version.number.desc())
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class Query:
    """A search: words matched (all of them) against publisher, name, description, format
    and tags; optional exact filters; a page."""

    text: str = ""
    publisher: str | None = None
    format: str | None = None
    tag: str | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Found:
    models: list[Model]
    total: int
    page: int
    per_page: int


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _term(term: str) -> ColumnElement[bool]:
    pattern = _like(term.lower())
    tagged = exists().where(ModelTag.model_id == Model.id, ModelTag.tag.like(pattern, escape="\\"))
    keras = Model.format == KERAS_SAVED_MODEL if term.lower() in TF2_SAVED_MODEL else false()
    return or_(
        Publisher.name.like(pattern, escape="\\"),
        Model.name.like(pattern, escape="\\"),
        func.lower(Model.description).like(pattern, escape="\\"),
        Model.format.like(pattern, escape="\\"),
        keras,
        tagged,
    )


def format_filter(value: str) -> ColumnElement[bool]:
    """SQL: the model's format starts with ``value``; Keras SavedModels also match any
    prefix of ``tf2-saved-model`` (they are TF2 SavedModels)."""
    value = value.lower()
    prefix = Model.format.startswith(value, autoescape=True)
    if TF2_SAVED_MODEL.startswith(value):
        return or_(prefix, Model.format == KERAS_SAVED_MODEL)
    return prefix


def search(session: Session, viewer: Viewer, query: Query) -> Found:
    """The page of models matching ``query``, newest first, and how many match in all."""
    if query.page < 1 or not 1 <= query.per_page <= MAX_PER_PAGE:
        raise ServerError(
            f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}.", code="invalid"
        )
    terms = query.text.split()[:MAX_TERMS]
    conditions = [readable(viewer), Model.latest_version > 0, *[_term(t) for t in terms]]
    if query.publisher:
        conditions.append(Publisher.name == query.publisher)
    if query.format:
        conditions.append(format_filter(query.format))
    if query.tag:
        tag = query.tag.lower()
        conditions.append(exists().where(ModelTag.model_id == Model.id, ModelTag.tag == tag))
    where = and_(*conditions)
    total = session.scalar(select(func.count(Model.id)).join(Publisher).where(where)) or 0
    models = session.scalars(
        select(Model)
        .join(Publisher)
        .where(where)
        .options(selectinload(Model.tags), contains_eager(Model.publisher))
        .order_by(Model.updated_at.desc(), Publisher.name, Model.name)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    )
    return Found(list(models), total, query.page, query.per_page)


def publisher_models(session: Session, publisher: Publisher) -> list[Model]:
    return list(
        session.scalars(
            select(Model)
            .where(Model.publisher_id == publisher.id, Model.latest_version > 0)
            .options(selectinload(Model.tags))
            .order_by(Model.name)
        )
    )


def list_publishers(session: Session, viewer: Viewer) -> list[tuple[Publisher, int]]:
    """Visible publishers and how many models each has."""
    count = (
        select(func.count(Model.id))
        .where(Model.publisher_id == Publisher.id, Model.latest_version > 0)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Publisher, count).where(readable(viewer)).order_by(Publisher.name)
    )
    return [(p, int(n)) for p, n in rows]
