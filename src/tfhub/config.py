"""Settings, read from the environment at call time (never frozen at import).

Every environment variable tfhub reads is named here, once.

Example:
    >>> import os
    >>> from tfhub.config import Settings
    >>> os.environ["TFHUB_OFFLINE"] = "1"
    >>> Settings.from_env().offline
    True
    >>> del os.environ["TFHUB_OFFLINE"]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tfhub.errors import ConfigError

CACHE_DIR = "TFHUB_CACHE_DIR"
"""Where downloaded models are kept (same name as the original library)."""
MODEL_LOAD_FORMAT = "TFHUB_MODEL_LOAD_FORMAT"
"""``COMPRESSED`` (default) or ``UNCOMPRESSED`` (read the model in place from storage)."""
OFFLINE = "TFHUB_OFFLINE"
"""``1``: never touch the network; only cached handles resolve."""
DISABLE_PROGRESS = "TFHUB_DISABLE_PROGRESS"
"""``1``: no progress bar even on a terminal."""
TOKEN = "TFHUB_TOKEN"
"""A bearer token sent with HTTP requests to :data:`TOKEN_HOST` only."""
TOKEN_HOST = "TFHUB_TOKEN_HOST"
"""The host (``name`` or ``name:port``) that :data:`TOKEN` is sent to."""
CONNECT_TIMEOUT = "TFHUB_CONNECT_TIMEOUT"
"""Seconds to wait for a TCP/TLS connection (default 10)."""
READ_TIMEOUT = "TFHUB_READ_TIMEOUT"
"""Seconds to wait for the next bytes of an answer (default 60)."""
RETRIES = "TFHUB_RETRIES"
"""How many times a transient network failure is retried (default 5)."""
LOCK_TIMEOUT = "TFHUB_LOCK_TIMEOUT"
"""Seconds to wait for another process installing the same handle (default 3600)."""
MAX_ARCHIVE_BYTES = "TFHUB_MAX_ARCHIVE_BYTES"
"""Largest total unpacked size accepted from an archive (default 64 GiB)."""
MAX_ARCHIVE_MEMBERS = "TFHUB_MAX_ARCHIVE_MEMBERS"
"""Largest number of members accepted in an archive (default 100000)."""
SCAN = "TFHUB_SCAN"
"""The risky-op scan of models from remote handles before loading: ``warn`` (default: log
findings), ``block`` (refuse high-severity findings) or ``off``."""
SCAN_MODES = ("warn", "block", "off")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={env[name]!r} is not a boolean; use 1 or 0.")


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {what}.") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative.")
    return float(value)


def _load_format(env: Mapping[str, str]) -> str:
    value = env.get(MODEL_LOAD_FORMAT, "COMPRESSED").strip().upper() or "COMPRESSED"
    if value not in ("COMPRESSED", "UNCOMPRESSED", "AUTO"):
        raise ConfigError(
            f"{MODEL_LOAD_FORMAT}={env[MODEL_LOAD_FORMAT]!r} is not valid; "
            "use COMPRESSED or UNCOMPRESSED."
        )
    return "COMPRESSED" if value == "AUTO" else value


def _scan_mode(env: Mapping[str, str]) -> str:
    value = env.get(SCAN, "").strip().lower() or "warn"
    if value not in SCAN_MODES:
        raise ConfigError(f"{SCAN}={env[SCAN]!r} is not valid; use warn, block or off.")
    return value


@dataclass(frozen=True)
class Settings:
    """A snapshot of every tfhub setting. Build one per call with :meth:`from_env`."""

    cache_dir: str | None = None
    load_format: str = "COMPRESSED"
    offline: bool = False
    disable_progress: bool = False
    token: str | None = None
    token_host: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    lock_timeout: float = 3600.0
    max_archive_bytes: int = 64 * 1024**3
    max_archive_members: int = 100_000
    scan: str = "warn"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads every setting from ``env`` (default: ``os.environ``) now."""
        env = os.environ if env is None else env
        token = env.get(TOKEN) or None
        token_host = (env.get(TOKEN_HOST) or "").strip().lower() or None
        if token and not token_host:
            raise ConfigError(
                f"{TOKEN} is set but {TOKEN_HOST} is not: set {TOKEN_HOST} to the host "
                "(e.g. hub.example.com or 127.0.0.1:8080) the token belongs to."
            )
        return cls(
            cache_dir=env.get(CACHE_DIR) or None,
            load_format=_load_format(env),
            offline=_flag(env, OFFLINE),
            disable_progress=_flag(env, DISABLE_PROGRESS),
            token=token,
            token_host=token_host,
            connect_timeout=_number(env, CONNECT_TIMEOUT, 10.0),
            read_timeout=_number(env, READ_TIMEOUT, 60.0),
            retries=int(_number(env, RETRIES, 5, int)),
            lock_timeout=_number(env, LOCK_TIMEOUT, 3600.0),
            max_archive_bytes=int(_number(env, MAX_ARCHIVE_BYTES, 64 * 1024**3, int)),
            max_archive_members=int(_number(env, MAX_ARCHIVE_MEMBERS, 100_000, int)),
            scan=_scan_mode(env),
        )
