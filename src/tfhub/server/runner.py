"""``tfhub serve``: prepare the hub (migrate, clean up, examples on first start), then serve
it with Granian, in one process or several.

Granian (a Rust HTTP server for ASGI apps) implements the ``http.response.pathsend``
extension, so archives in local storage are sent from the file without passing through
Python: 0.80x nginx's throughput on the same file against 0.64x with uvicorn
(``bench/bench_server.py``). Each worker builds its own app from the environment
(:func:`tfhub.server.app.app_from_env`); workers share nothing but the database and the store.

Example::

    run(ServerSettings.from_env(), workers=2, examples=True)   # blocks until Ctrl-C
"""

from __future__ import annotations

import gc
import logging
import os
import shlex
import sys

from tfhub.server.context import HubContext
from tfhub.server.settings import ServerSettings, default_data_dir, redact

logger = logging.getLogger("tfhub.server")


def base_url(settings: ServerSettings) -> str:
    """The URL the hub is reached at.

    >>> base_url(ServerSettings("sqlite://", "/tmp/s", "/tmp", host="::1", port=9000))
    'http://[::1]:9000'
    """
    if settings.public_url:
        return settings.public_url
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def prepare(settings: ServerSettings, *, examples: bool) -> HubContext:
    """Migrates the database, removes old leftovers and publishes the example models on
    first start. Returns the open hub."""
    from tfhub.server.gc import collect_garbage

    hub = HubContext.open(settings)
    try:
        hub.db.migrate()
        collect_garbage(hub)
        if examples:
            from tfhub.server.examples import publish_examples

            publish_examples(hub, base_url(settings))
    except BaseException:
        hub.close()
        raise
    return hub


def admin_options(settings: ServerSettings) -> str:
    """The options that point ``tfhub token create`` (and the other operator commands) at
    this hub's database: ``--database URL`` unless it is the SQLite file of the data dir,
    ``--data-dir DIR`` unless that is the default one; "" for the defaults.

    >>> admin_options(ServerSettings.from_env({}, data_dir="/srv/hub"))
    ' --data-dir /srv/hub'
    >>> admin_options(ServerSettings.from_env({}, database_url="postgresql://hub:pw@db/hub"))
    " --database 'postgresql://***@db/hub'"
    """
    embedded = f"sqlite:///{os.path.join(settings.data_dir, 'hub.db')}"
    if settings.database_url != embedded:
        return f" --database {shlex.quote(redact(settings.database_url))}"
    if os.path.abspath(settings.data_dir) != os.path.abspath(default_data_dir()):
        return f" --data-dir {shlex.quote(settings.data_dir)}"
    return ""


def banner(settings: ServerSettings, hub: HubContext) -> str:
    """What ``tfhub serve`` prints: where the hub is, how to publish to it (the commands
    name this hub's database), and code to load a model from it."""
    from tfhub.server.examples import FLAG, PUBLISHER, TF2_MODEL

    url = base_url(settings)
    handle = f"{url}/{PUBLISHER}/{TF2_MODEL}/1" if hub.db.get_flag(FLAG) else f"{url}/PUB/MODEL"
    options = admin_options(settings)
    hidden = (
        "\n            (the database password is not printed: put it back in the URL)"
        if "--database" in options and redact(settings.database_url) != settings.database_url
        else ""
    )
    return f"""
tfhub hub running at {url}   ({settings.describe()})
  pages:    {url}/
  API:      {url}/api/v1/models   (OpenAPI: {url}/api/v1/openapi.json)
  publish:  tfhub token create --publisher NAME{options}   then{hidden}
            tfhub publish MODEL_DIR NAME/MODEL --server {url} --token TOKEN

  import tfhub as hub   # or: import tensorflow_hub as hub
  model = hub.load("{handle}")
"""


def before_fork() -> None:
    """Frees what preparing left behind before Granian forks its workers, and keeps the
    workers' garbage collector away from the rest.

    Publishing the examples packs them with a multi-threaded zstd compressor; one left for
    the garbage collector, freed in a forked worker, waits forever for threads that the
    fork did not copy (the worker then never starts).
    """
    gc.collect()
    gc.freeze()


def run(settings: ServerSettings, *, workers: int = 1, examples: bool = True) -> None:
    """Prepares the hub, prints the banner and serves until interrupted."""
    from granian import Granian
    from granian.constants import Interfaces

    hub = prepare(settings, examples=examples)
    print(banner(settings, hub), file=sys.stderr, flush=True)
    hub.close()
    del hub
    before_fork()
    os.environ.update(settings.to_env())
    Granian(
        "tfhub.server.app:app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=max(1, workers),
        log_access=False,
        workers_kill_timeout=30,
    ).serve()
