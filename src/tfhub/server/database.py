"""The database: engine, sessions, schema migrations (Alembic, ``upgrade head``) and flags.

``sqlite:///path`` (the embedded default) or ``postgresql://user:pw@host/db`` (served by
psycopg 3). SQLite runs in WAL mode with a busy timeout, so several server processes on one
machine can share it; PostgreSQL is for several machines.

Example:
    >>> import tempfile, os
    >>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/hub.db")
    >>> db.migrate()
    >>> db.set_flag("demo", "yes"); db.get_flag("demo")
    'yes'
    >>> db.close()
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tfhub.errors import ConfigError
from tfhub.server.db import State
from tfhub.server.settings import redact

logger = logging.getLogger("tfhub.server")

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK = 0x7F4B_0001
"""The advisory lock that serialises migrations of processes starting together."""


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: ``postgresql://`` and ``postgres://`` use psycopg 3.

    >>> engine_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with sane settings for a web server.

    Raises:
        ConfigError: the URL cannot be parsed or names an unsupported database.
    """
    url = engine_url(url)
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy.exc.ArgumentError, ValueError
        raise ConfigError(f"Cannot use database URL {redact(url)!r}: {e}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise ConfigError(
        f"Unsupported database {redact(url)!r}: use sqlite:///path/hub.db or "
        "postgresql://user:password@host/dbname."
    )


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config() -> Any:
    """An Alembic ``Config`` for the migrations shipped inside the package (no ini file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class Database:
    """An engine and its session factory. Stateless apart from the connection pool."""

    def __init__(self, url: str) -> None:
        self.url = engine_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session; the caller commits. Rolled back and closed on the way out."""
        with self.sessions() as session:
            yield session

    def migrate(self) -> None:
        """Brings the schema to the newest revision (``alembic upgrade head``), once even
        when several processes start together."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = alembic_config()
        with self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
        if after != before:
            logger.info("database %s: schema %s -> %s", redact(self.url), before or "empty", after)

    def revision(self) -> str | None:
        """The schema revision the database is at (None: empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def require_current(self) -> None:
        """Raises :class:`~tfhub.ConfigError` unless the schema is at the newest revision."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        try:
            current = self.revision()
        except SQLAlchemyError as e:
            raise ConfigError(f"Cannot reach the database {redact(self.url)}: {e}") from None
        if current != head:
            raise ConfigError(
                f"The database {redact(self.url)} is at schema revision {current or 'none'}, "
                f"not {head}. Run `tfhub server migrate` (or start `tfhub serve`, which migrates)."
            )

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            yield
            return
        from filelock import FileLock

        with FileLock(os.path.abspath(str(parsed.database)) + ".migrate.lock", timeout=300):
            yield

    def get_flag(self, key: str) -> str | None:
        with self.session() as session:
            return session.scalar(select(State.value).where(State.key == key))

    def set_flag(self, key: str, value: str) -> None:
        with self.session() as session:
            state = session.get(State, key)
            if state is None:
                session.add(State(key=key, value=value))
            else:
                state.value = value
            session.commit()

    def ping(self) -> bool:
        """True if the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()
