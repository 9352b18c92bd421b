"""The hub server's settings: where its database and storage are, limits, its public URL.

Read from the environment at call time (``TFHUB_SERVER_*``, named here once) and
overridden by command-line options. With nothing set, the server runs on embedded
defaults: SQLite and a storage folder in the user data directory.

Example:
    >>> s = ServerSettings.from_env({"TFHUB_SERVER_DATA_DIR": "/srv/hub"})
    >>> s.database_url, s.storage_url
    ('sqlite:////srv/hub/hub.db', '/srv/hub/storage')
    >>> redact("postgresql://hub:s3cret@db.internal/hub?password=x")
    'postgresql://***@db.internal/hub?password=***'
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfhub.core.handle import redact_url
from tfhub.errors import ConfigError

DATA_DIR = "TFHUB_SERVER_DATA_DIR"
"""Folder of the embedded defaults (``hub.db``, ``storage/``); default: the user data dir."""
DATABASE = "TFHUB_SERVER_DATABASE"
"""SQLAlchemy URL of the database: ``sqlite:///path`` or ``postgresql://user:pw@host/db``."""
STORAGE = "TFHUB_SERVER_STORAGE"
"""Where archives and model folders go: a local folder or an fsspec URL (``s3://b/prefix``)."""
PUBLIC_URL = "TFHUB_SERVER_PUBLIC_URL"
"""The hub's address as clients see it (behind a proxy); default: taken from each request."""
WORK_DIR = "TFHUB_SERVER_WORK_DIR"
"""Scratch space for uploads being checked and packed; default: the system temp dir."""
MAX_UPLOAD_BYTES = "TFHUB_SERVER_MAX_UPLOAD_BYTES"
"""Largest publish request body (default 20 GiB): beyond it, HTTP 413."""
MAX_MODEL_BYTES = "TFHUB_SERVER_MAX_MODEL_BYTES"
"""Largest unpacked model (default 64 GiB)."""
MAX_MODEL_FILES = "TFHUB_SERVER_MAX_MODEL_FILES"
"""Most archive members in a model (default 100000)."""
MAX_README_BYTES = "TFHUB_SERVER_MAX_README_BYTES"
"""Largest README (default 1 MiB)."""
GC_GRACE = "TFHUB_SERVER_GC_GRACE_SECONDS"
"""Unreferenced storage objects younger than this are left alone by cleanup (default 1 day):
they may belong to an upload in progress in another server process."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_SECRET_PARAMS = ("password", "secret", "token", "key", "credential")


def default_data_dir() -> str:
    """``~/.local/share/tfhub/server`` on Linux (the platform's user data directory)."""
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("tfhub", appauthor=False), "server")


def redact(url: str) -> str:
    """``url`` without credentials (user info, secret-looking query values), for logs."""
    url = redact_url(url)
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    ]
    text = urllib.parse.urlencode(query, safe="*")
    return urllib.parse.urlunsplit(parts._replace(query=text))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer.") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative.")
    return value


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to know; build one with :meth:`from_env`."""

    database_url: str
    storage_url: str
    data_dir: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None
    work_dir: str | None = None
    max_upload_bytes: int = 20 * 1024**3
    max_model_bytes: int = 64 * 1024**3
    max_model_files: int = 100_000
    max_readme_bytes: int = 1024**2
    gc_grace_seconds: int = 24 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Reads the ``TFHUB_SERVER_*`` variables; keyword arguments that are not None win."""
        env = os.environ if env is None else env
        data_dir = overrides.pop("data_dir", None) or env.get(DATA_DIR) or default_data_dir()
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": env.get(DATABASE) or f"sqlite:///{os.path.join(data_dir, 'hub.db')}",
            "storage_url": env.get(STORAGE) or os.path.join(data_dir, "storage"),
            "public_url": env.get(PUBLIC_URL) or None,
            "work_dir": env.get(WORK_DIR) or None,
            "max_upload_bytes": _int(env, MAX_UPLOAD_BYTES, cls.max_upload_bytes),
            "max_model_bytes": _int(env, MAX_MODEL_BYTES, cls.max_model_bytes),
            "max_model_files": _int(env, MAX_MODEL_FILES, cls.max_model_files),
            "max_readme_bytes": _int(env, MAX_README_BYTES, cls.max_readme_bytes),
            "gc_grace_seconds": _int(env, GC_GRACE, cls.gc_grace_seconds),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if settings.public_url is not None:
            settings = dataclasses.replace(settings, public_url=settings.public_url.rstrip("/"))
        return settings

    def to_env(self) -> dict[str, str]:
        """The environment that makes :meth:`from_env` give these settings again (for the
        worker processes of ``tfhub serve --workers N``)."""
        env = {
            DATA_DIR: self.data_dir,
            DATABASE: self.database_url,
            STORAGE: self.storage_url,
            MAX_UPLOAD_BYTES: str(self.max_upload_bytes),
            MAX_MODEL_BYTES: str(self.max_model_bytes),
            MAX_MODEL_FILES: str(self.max_model_files),
            MAX_README_BYTES: str(self.max_readme_bytes),
            GC_GRACE: str(self.gc_grace_seconds),
        }
        if self.public_url:
            env[PUBLIC_URL] = self.public_url
        if self.work_dir:
            env[WORK_DIR] = self.work_dir
        return env

    def describe(self) -> str:
        """A one-line, credential-free summary for the log."""
        return f"database {redact(self.database_url)}, storage {redact(self.storage_url)}"
