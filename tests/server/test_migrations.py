"""The Alembic migrations shipped in the package, on SQLite and a real PostgreSQL: they
create exactly the ORM's schema, run once when processes start together, and an app on an
old schema refuses to start with advice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import tfhub
from server.pg import Postgres
from tfhub.server.app import create_app
from tfhub.server.context import HubContext
from tfhub.server.database import Database, alembic_config
from tfhub.server.db import Base
from tfhub.server.settings import ServerSettings

pytestmark = pytest.mark.timeout(120)
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hub.db"
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.new_database()


def test_migrations_create_the_orm_schema(url: str) -> None:
    db = Database(url)
    try:
        assert db.revision() is None
        db.migrate()
        assert db.revision() == HEAD
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        db.migrate()  # again: nothing to do
        assert db.revision() == HEAD
    finally:
        db.close()


def test_processes_starting_together_migrate_once(url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        db = Database(url)
        try:
            db.migrate()
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            db.close()

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    db = Database(url)
    assert db.revision() == HEAD
    db.close()


def test_an_app_on_an_unmigrated_database_refuses_to_start(url: str, tmp_path: Path) -> None:
    settings = ServerSettings.from_env({}, data_dir=str(tmp_path), database_url=url)
    hub = HubContext.open(settings)
    try:
        with pytest.raises(tfhub.ConfigError, match="tfhub server migrate"):
            create_app(hub=hub)
    finally:
        hub.close()
