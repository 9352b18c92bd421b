"""Who is asking: the bearer token of a request, and what it may read and publish.

Anyone may read public publishers' models. A private publisher's models, pages and
archives need a token of that publisher; without one they answer 404, exactly as if they
did not exist, so private names do not leak. Publishing needs a token of the publisher
(none or an unknown one: 401; another publisher's: 403). An unknown token is always 401.

Example:
    >>> bearer("Bearer tfhub_abc"), bearer("Basic xyz"), bearer(None)
    ('tfhub_abc', None, None)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tfhub.errors import ServerError
from tfhub.server.admin import hash_token
from tfhub.server.db import Publisher, Token, utcnow

_TOUCH_EVERY = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (not on every request)."""


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@dataclass(frozen=True)
class Viewer:
    """The caller: anonymous (``publisher_id`` None) or the holder of a publisher's token."""

    publisher_id: int | None = None
    publisher: str | None = None

    def can_read(self, publisher: Publisher) -> bool:
        return not publisher.private or publisher.id == self.publisher_id

    def require_publisher(self, publisher: Publisher | None, name: str) -> Publisher:
        """``publisher`` if this viewer may publish as it.

        Raises:
            ServerError: 401 without a token; 403 for another publisher's token.
        """
        if self.publisher_id is None:
            raise unauthorized("Publishing needs a token")
        if publisher is None or publisher.id != self.publisher_id:
            raise ServerError(
                f"This token may publish as {self.publisher!r}, not as {name!r}. Ask the hub's "
                f"operator for a token of {name!r} (tfhub token create --publisher {name}).",
                status=403,
                code="forbidden",
            )
        return publisher


def unauthorized(what: str) -> ServerError:
    return ServerError(
        f"{what}: send it as 'Authorization: Bearer <token>' (tfhub publish --token, or "
        "TFHUB_TOKEN). The hub's operator creates tokens with `tfhub token create`.",
        status=401,
        code="unauthorized",
    )


def viewer_for(session: Session, token: str | None) -> Viewer:
    """The viewer holding ``token`` (anonymous for None).

    Raises:
        ServerError: 401 if the token is unknown (mistyped or revoked).
    """
    if token is None:
        return Viewer()
    row = session.execute(
        select(Token.id, Token.last_used_at, Publisher.id, Publisher.name)
        .join(Publisher, Token.publisher_id == Publisher.id)
        .where(Token.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise unauthorized("The token is not valid (mistyped or revoked); a valid token is needed")
    token_id, last_used, publisher_id, name = row
    now = utcnow()
    if last_used is None or now - last_used >= _TOUCH_EVERY:
        session.execute(update(Token).where(Token.id == token_id).values(last_used_at=now))
        session.commit()
    return Viewer(publisher_id, name)
