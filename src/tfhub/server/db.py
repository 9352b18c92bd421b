"""The hub's tables (SQLAlchemy 2.0 typed ORM); the migrations in ``migrations/`` create them.

* ``publishers``: a name and whether it is private (its models need a token to be seen).
* ``models``: one per ``publisher/model``, with the description, tags, format and number of
  the latest version (kept here for search and listing).
* ``versions``: immutable; ``(model, number)`` is unique. Sizes, the sha256 and storage key
  of the gzip and zstd archives, the unpacked model folder, the README (Markdown) and the
  inspection report (JSON).
* ``tokens``: only the sha256 of each token, the publisher it may publish (and read) as.
* ``server_state``: flags such as "the example models were published".

Example:
    >>> sorted(Base.metadata.tables)
    ['model_tags', 'models', 'publishers', 'server_state', 'tokens', 'versions']
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Now, in UTC, to the second (what every timestamp column holds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use tfhub.server.db.utcnow()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    models: Mapped[list[Model]] = relationship(back_populates="publisher")


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("publisher_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publisher_id: Mapped[int] = mapped_column(
        ForeignKey("publishers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(32), default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    publisher: Mapped[Publisher] = relationship(back_populates="models")
    tags: Mapped[list[ModelTag]] = relationship(
        cascade="all, delete-orphan", order_by="ModelTag.tag"
    )
    versions: Mapped[list[Version]] = relationship(
        back_populates="model", order_by="Version.number"
    )


class ModelTag(Base):
    __tablename__ = "model_tags"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("model_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    format: Mapped[str] = mapped_column(String(32))
    unpacked_bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    storage_prefix: Mapped[str] = mapped_column(String(255), unique=True)
    model_key: Mapped[str] = mapped_column(String(512))
    gzip_key: Mapped[str] = mapped_column(String(512))
    gzip_bytes: Mapped[int] = mapped_column(BigInteger)
    gzip_sha256: Mapped[str] = mapped_column(String(64))
    zstd_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    zstd_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    zstd_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    readme: Mapped[str] = mapped_column(Text, default="")
    inspect_json: Mapped[str] = mapped_column(Text, default="{}")

    model: Mapped[Model] = relationship(back_populates="versions")


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    publisher_id: Mapped[int] = mapped_column(
        ForeignKey("publishers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)

    publisher: Mapped[Publisher] = relationship()


class State(Base):
    __tablename__ = "server_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
