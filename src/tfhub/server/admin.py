"""Publishers and tokens, managed by the hub's operator (``tfhub publisher``, ``tfhub token``).

A token is ``tfhub_`` plus 43 random URL-safe characters (256 bits). Only its sha256 is
stored; the token itself is shown once, when it is created. A token belongs to one
publisher: it may publish as that publisher and read that publisher's private models.

Example:
    >>> import tempfile
    >>> from tfhub.server.database import Database
    >>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/hub.db"); db.migrate()
    >>> token, info = create_token(db, "research", name="ci")
    >>> token.startswith("tfhub_"), info.publisher, hash_token(token) != token
    (True, 'research', True)
    >>> [p.name for p in list_publishers(db)]
    ['research']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tfhub.errors import ServerError
from tfhub.server.database import Database
from tfhub.server.db import Publisher, Token
from tfhub.server.names import check_name

TOKEN_PREFIX = "tfhub_"


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The sha256 (hex) that is stored instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PublisherInfo:
    id: int
    name: str
    private: bool
    description: str
    created_at: dt.datetime


@dataclass(frozen=True)
class TokenInfo:
    id: int
    publisher: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


def _publisher_info(p: Publisher) -> PublisherInfo:
    return PublisherInfo(p.id, p.name, p.private, p.description, p.created_at)


def ensure_publisher(
    session: Session, name: str, *, private: bool | None = None, description: str | None = None
) -> Publisher:
    """The publisher ``name``, created if missing; ``private``/``description`` are set
    when given. The caller commits."""
    check_name(name, "publisher")
    publisher = session.scalar(select(Publisher).where(Publisher.name == name))
    if publisher is None:
        publisher = Publisher(name=name, private=bool(private), description=description or "")
        session.add(publisher)
        try:
            session.flush()
        except IntegrityError:  # created by another process meanwhile
            session.rollback()
            return ensure_publisher(session, name, private=private, description=description)
        return publisher
    if private is not None:
        publisher.private = private
    if description is not None:
        publisher.description = description
    return publisher


def set_publisher(
    db: Database, name: str, *, private: bool | None = None, description: str | None = None
) -> PublisherInfo:
    """Creates or updates the publisher ``name``."""
    with db.session() as session:
        publisher = ensure_publisher(session, name, private=private, description=description)
        session.commit()
        return _publisher_info(publisher)


def list_publishers(db: Database) -> list[PublisherInfo]:
    with db.session() as session:
        rows = session.scalars(select(Publisher).order_by(Publisher.name))
        return [_publisher_info(p) for p in rows]


def create_token(
    db: Database, publisher: str, *, name: str = "", private: bool | None = None
) -> tuple[str, TokenInfo]:
    """Creates a token for ``publisher`` (created too if missing). Returns the token, which
    is not stored anywhere, and its description."""
    token = new_token()
    with db.session() as session:
        owner = ensure_publisher(session, publisher, private=private)
        row = Token(token_hash=hash_token(token), publisher=owner, name=name)
        session.add(row)
        session.commit()
        return token, TokenInfo(row.id, owner.name, row.name, row.created_at, None)


def list_tokens(db: Database, publisher: str | None = None) -> list[TokenInfo]:
    """Every token (of ``publisher``), without the secrets, which are not stored."""
    with db.session() as session:
        query = select(Token, Publisher.name).join(Publisher).order_by(Token.id)
        if publisher is not None:
            query = query.where(Publisher.name == publisher)
        return [
            TokenInfo(t.id, name, t.name, t.created_at, t.last_used_at)
            for t, name in session.execute(query)
        ]


def revoke_token(db: Database, token_id: int) -> None:
    """Deletes the token ``token_id``; it stops working at once.

    Raises:
        ServerError: 404 if there is no such token.
    """
    with db.session() as session:
        row = session.get(Token, token_id)
        if row is None:
            raise ServerError(f"No token with id {token_id}.", status=404, code="not_found")
        session.delete(row)
        session.commit()
