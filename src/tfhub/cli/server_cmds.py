"""``tfhub serve``, ``tfhub publish`` and the operator's ``tfhub token``, ``tfhub publisher``
and ``tfhub server`` commands.

The server's packages (the ``server`` extra) are imported only when one of these runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import click

TOKEN_ENV = "TFHUB_TOKEN"
SERVER_ENV = "TFHUB_SERVER_URL"
"""The hub ``tfhub publish`` talks to (default ``http://127.0.0.1:8080``)."""


def _settings(**overrides: Any) -> Any:
    from tfhub.server.settings import ServerSettings

    logging.getLogger("alembic").setLevel(logging.WARNING)  # tfhub logs what changed
    return ServerSettings.from_env(**overrides)


@contextlib.contextmanager
def _db(database: str | None, data_dir: str | None) -> Iterator[Any]:
    """The (migrated) database, closed on the way out."""
    from tfhub.server.database import Database

    db = Database(_settings(database_url=database, data_dir=data_dir).database_url)
    try:
        db.migrate()
        yield db
    finally:
        db.close()


_database = click.option(
    "--database", default=None, help="Database URL (default: $TFHUB_SERVER_DATABASE or SQLite)."
)
_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the embedded defaults (default: the user data dir).",
)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@_database
@click.option(
    "--storage", default=None, help="Storage: a folder or e.g. s3://bucket/prefix (default: local)."
)
@_data_dir
@click.option("--public-url", default=None, help="The hub's URL as clients see it (proxies).")
@click.option("--no-examples", is_flag=True, help="Do not publish the example models.")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes."
)
def serve(
    host: str | None,
    port: int | None,
    database: str | None,
    storage: str | None,
    data_dir: str | None,
    public_url: str | None,
    no_examples: bool,
    workers: int,
) -> None:
    """Run a model hub: the hub URL protocol, the JSON API and publishing.

    With no options: SQLite and a storage folder in the user data directory, on
    127.0.0.1:8080, with two example models published on first start."""
    from tfhub.server.runner import run

    settings = _settings(
        host=host, port=port, database_url=database, storage_url=storage,
        data_dir=data_dir, public_url=public_url,
    )  # fmt: skip
    run(settings, workers=workers, examples=not no_examples)


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.argument("name", metavar="PUBLISHER/MODEL[/VERSION]")
@click.option("--readme", type=click.Path(exists=True, dir_okay=False), help="README (Markdown).")
@click.option("--description", default=None, help="One-line description (default: the README's).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@click.option("--server", default=None, help=f"The hub (default: ${SERVER_ENV} or 127.0.0.1:8080).")
@click.option("--token", default=None, help=f"Publishing token (default: ${TOKEN_ENV}).")
def publish(
    path: str,
    name: str,
    readme: str | None,
    description: str | None,
    tags: tuple[str, ...],
    server: str | None,
    token: str | None,
) -> None:
    """Publish the model folder (or archive) PATH as PUBLISHER/MODEL, as the next version or
    as VERSION."""
    from tfhub.server.client import DEFAULT_SERVER, publish_model

    result = publish_model(
        path, name, server=server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER,
        token=token or os.environ.get(TOKEN_ENV), readme=readme, description=description,
        tags=list(tags) or None,
    )  # fmt: skip
    click.echo(f"published {result['publisher']}/{result['model']}/{result['version']}")
    click.echo(f"handle: {result['handle']}")


@click.group("token")
def token_group() -> None:
    """Create, list and revoke publishing tokens (talks to the database directly)."""


@token_group.command("create")
@click.option("--publisher", required=True, help="The publisher the token may publish as.")
@click.option("--name", default="", help="A note to tell tokens apart (e.g. 'ci').")
@click.option("--private", is_flag=True, default=None, help="Also make the publisher private.")
@_database
@_data_dir
def token_create(
    publisher: str, name: str, private: bool | None, database: str | None, data_dir: str | None
) -> None:
    """Create a token for PUBLISHER (created if missing) and print it, once."""
    from tfhub.server.admin import create_token

    with _db(database, data_dir) as db:
        token, info = create_token(db, publisher, name=name, private=private)
    click.echo(f"token {info.id} for publisher {info.publisher!r} (shown only now):", err=True)
    click.echo(token)


@token_group.command("list")
@click.option("--publisher", default=None, help="Only the tokens of this publisher.")
@_database
@_data_dir
def token_list(publisher: str | None, database: str | None, data_dir: str | None) -> None:
    """List tokens (ids, publishers, use); the tokens themselves are not stored."""
    from tfhub.server.admin import list_tokens

    with _db(database, data_dir) as db:
        tokens = list_tokens(db, publisher)
    for t in tokens:
        used = t.last_used_at.isoformat() if t.last_used_at else "never"
        click.echo(f"{t.id}\t{t.publisher}\t{t.name or '-'}\tcreated {t.created_at}\tused {used}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@_database
@_data_dir
def token_revoke(token_id: int, database: str | None, data_dir: str | None) -> None:
    """Revoke token TOKEN_ID (see `tfhub token list`); it stops working at once."""
    from tfhub.server.admin import revoke_token

    with _db(database, data_dir) as db:
        revoke_token(db, token_id)
    click.echo(f"revoked token {token_id}")


@click.group("publisher")
def publisher_group() -> None:
    """Create and list publishers (talks to the database directly)."""


@publisher_group.command("create")
@click.argument("name")
@click.option("--private/--public", default=None, help="Private: models need a token to be seen.")
@click.option(
    "--description",
    default=None,
    help="One line about the publisher, shown on its page (unchanged if omitted).",
)
@_database
@_data_dir
def publisher_create(
    name: str,
    private: bool | None,
    description: str | None,
    database: str | None,
    data_dir: str | None,
) -> None:
    """Create publisher NAME, or change whether it is private."""
    from tfhub.server.admin import set_publisher

    with _db(database, data_dir) as db:
        info = set_publisher(db, name, private=private, description=description)
    click.echo(f"publisher {info.name} ({'private' if info.private else 'public'})")


@publisher_group.command("list")
@_database
@_data_dir
def publisher_list(database: str | None, data_dir: str | None) -> None:
    """List publishers."""
    from tfhub.server.admin import list_publishers

    with _db(database, data_dir) as db:
        publishers = list_publishers(db)
    for p in publishers:
        click.echo(f"{p.name}\t{'private' if p.private else 'public'}\t{p.description}")


@click.group("server")
def server_group() -> None:
    """Maintain a hub: migrate its database, clean up after failed publishes."""


@server_group.command("migrate")
@_database
@_data_dir
def migrate(database: str | None, data_dir: str | None) -> None:
    """Bring the database schema up to date (tfhub serve also does it at startup)."""
    with _db(database, data_dir) as db:
        click.echo(f"database at revision {db.revision()}")


@server_group.command("gc")
@_database
@click.option("--storage", default=None, help="Storage (default: $TFHUB_SERVER_STORAGE or local).")
@_data_dir
@click.option(
    "--older-than",
    "hours",
    type=float,
    metavar="HOURS",
    default=None,
    help="Only leftovers older than HOURS (default 24: younger ones may be uploads in progress).",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
def gc(
    database: str | None,
    storage: str | None,
    data_dir: str | None,
    hours: float | None,
    dry_run: bool,
) -> None:
    """Remove storage objects no version points to (left by failed or cut publishes)."""
    from tfhub.server.context import HubContext
    from tfhub.server.gc import collect_garbage

    settings = _settings(database_url=database, storage_url=storage, data_dir=data_dir)
    hub = HubContext.open(settings)
    try:
        hub.db.migrate()
        grace = None if hours is None else hours * 3600
        report = collect_garbage(hub, grace_seconds=grace, dry_run=dry_run)
    finally:
        hub.close()
    verb = "would remove" if dry_run else "removed"
    for item in report.removed:
        click.echo(f"{verb} {item}")
    for item in report.kept_young:
        click.echo(f"kept (younger than the grace period) {item}")
    click.echo(f"{verb} {len(report.removed)}; {report.referenced} versions referenced")
