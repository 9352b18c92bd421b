"""A throwaway PostgreSQL cluster for tests: ``initdb`` in a temp dir, ``pg_ctl start`` on a
free port of 127.0.0.1 with trust authentication, one fresh database per hub.

Run as root, ``initdb`` refuses to work: the cluster then belongs to the ``postgres`` (or
``nobody``) user, through ``runuser``. When PostgreSQL cannot be started the tests fail
(a missing dependency must never pass for a green run).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], str | None]:
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


@dataclass
class Postgres:
    root: str
    port: int
    prefix: list[str]
    pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql://tfhub@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = "hub_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=tfhub dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://tfhub@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", f"{self.root}/data", "-m", "immediate", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    """Starts a cluster; raises RuntimeError saying why it could not."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("initdb/pg_ctl not found (install PostgreSQL server binaries)")
    prefix, user = _run_as()
    root = tempfile.mkdtemp(prefix="tfhub-pg-")
    os.chmod(root, 0o755)
    if user is not None:
        shutil.chown(root, user)
    port = free_port()
    steps = [
        [initdb, "-D", f"{root}/data", "-U", "tfhub", "--auth=trust", "-E", "UTF8", "--no-sync"],
        [pg_ctl, "-D", f"{root}/data", "-w", "-t", "60", "-l", f"{root}/log", "-o",
         f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
         "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200", "start"],
    ]  # fmt: skip
    for step in steps:
        proc = subprocess.run(
            [*prefix, *step], capture_output=True, text=True, timeout=120, check=False
        )
        if proc.returncode != 0:
            log = ""
            with contextlib.suppress(OSError), open(f"{root}/log") as f:
                log = f.read()[-2000:]
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"{os.path.basename(step[0])} failed: {proc.stderr[-2000:]}{log}")
    return Postgres(root, port, prefix, pg_ctl)


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A running cluster. The PostgreSQL runs are part of the suite: a cluster that cannot be
    started is a failure, never a skip."""
    try:
        pg = start_postgres()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"PostgreSQL could not be started (initdb/pg_ctl from the machine): {e}")
    try:
        yield pg
    finally:
        pg.stop()
