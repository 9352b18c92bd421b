"""Alembic environment: runs on the connection ``Database.migrate()`` passes in
``config.attributes["connection"]`` (inside its transaction), or offline (SQL output)."""

from __future__ import annotations

from alembic import context

from tfhub.server.db import Base


def run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic upgrade --sql`: print the SQL
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=Base.metadata,
            literal_binds=True,
        )
    else:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # run by Alembic (not merely imported, e.g. by pytest)
    run()
