"""Where the hub keeps archives and unpacked models: one interface, several back-ends.

Keys are ``/``-separated relative paths (``objects/20260520T101500-ab12.../model.tar.gz``).
A plain path or ``file://`` URL is a local folder (:class:`~.local.LocalStorage`); any
other URL (``s3://bucket/prefix``, ``gs://...``, ``memory://``) goes through fsspec
(:class:`~.remote.FsspecStorage`). Back-ends are looked up in a table of
``name -> "module:Class"`` and imported on first use.

Example:
    >>> import tempfile
    >>> store = open_storage(tempfile.mkdtemp())
    >>> type(store).__name__
    'LocalStorage'
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from typing import Protocol

from tfhub.errors import ConfigError, MissingDependencyError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
BACKENDS = {
    "file": "tfhub.server.storage.local:LocalStorage",
    "fsspec": "tfhub.server.storage.remote:FsspecStorage",
}
_HINTS = {"s3": "s3fs (pip install 'tfhub[s3]')", "gs": "gcsfs (pip install 'tfhub[gcs]')"}


class Storage(Protocol):
    """What the hub needs from a store. Every method is safe to call from several threads."""

    url: str
    """The store's URL as configured (may hold credentials: redact before logging)."""

    def put_file(self, key: str, source: str, *, move: bool = False) -> None:
        """Uploads the local file ``source`` to ``key`` (replacing it); with ``move`` the
        store may take the file itself (the caller no longer needs it)."""
        ...

    def put_tree(self, prefix: str, source_dir: str, *, move: bool = False) -> int:
        """Uploads every file below ``source_dir`` under ``prefix``; returns how many."""
        ...

    def size(self, key: str) -> int:
        """The size of ``key``; raises ``FileNotFoundError`` if there is none."""
        ...

    def read(self, key: str, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
        """``length`` bytes of ``key`` from ``start``, in pieces of up to ``chunk_size``."""
        ...

    def local_path(self, key: str) -> str | None:
        """A file path of ``key`` on this machine, if the store is a local folder."""
        ...

    def location(self, key: str) -> str:
        """A URL clients can read ``key`` from in place (``file://...``, ``s3://...``)."""
        ...

    def list_prefixes(self, prefix: str) -> list[str]:
        """The names directly below ``prefix`` (``objects`` -> ``["2026...-ab12", ...]``)."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Deletes everything under ``prefix`` (nothing if there is nothing)."""
        ...


def check_key(key: str) -> str:
    """Returns ``key`` if it is a plain relative path (no ``..``, no leading ``/``).

    >>> check_key("objects/a/model.tar.gz")
    'objects/a/model.tar.gz'
    """
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\0" in key:
        raise ValueError(f"invalid storage key {key!r}")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def put_tree(store: Storage, prefix: str, source_dir: str, *, move: bool = False) -> int:
    """:meth:`Storage.put_tree` in terms of ``store.put_file``: every file below
    ``source_dir`` (each directory's in name order) to ``prefix/<relative path>``. Links
    are not stored (the archives keep them). Returns how many files were stored.

    >>> import pathlib, tempfile
    >>> src = pathlib.Path(tempfile.mkdtemp()); (src / "variables").mkdir()
    >>> for name in ("saved_model.pb", "variables/variables.index"):
    ...     _ = (src / name).write_bytes(b"x")
    >>> store = open_storage(tempfile.mkdtemp())
    >>> put_tree(store, "objects/m", str(src)), store.list_prefixes("objects/m")
    (2, ['saved_model.pb', 'variables'])
    """
    count = 0
    for dirpath, _dirs, files in os.walk(source_dir):
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            rel = os.path.relpath(full, source_dir).replace(os.sep, "/")
            store.put_file(f"{prefix}/{rel}", full, move=move)
            count += 1
    return count


def open_storage(url: str, backends: dict[str, str] | None = None) -> Storage:
    """The store for ``url``: a local folder, or an fsspec URL such as ``s3://bucket/prefix``.

    Raises:
        ConfigError: empty URL, or a scheme fsspec does not know.
        MissingDependencyError: the fsspec implementation for the scheme is not installed.
    """
    table = {**BACKENDS, **(backends or {})}
    if not url.strip():
        raise ConfigError("The storage URL is empty; pass a folder or e.g. s3://bucket/prefix.")
    match = _URL.match(url)
    scheme = match.group(1).lower() if match else "file"
    name = scheme if scheme in table else "fsspec"
    module_name, _, class_name = table[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        store: Storage = cls(url)
    except ImportError as e:
        hint = _HINTS.get(scheme, f"the fsspec implementation of {scheme}://")
        raise MissingDependencyError(f"Storage {scheme}:// needs {hint}. ({e})") from e
    except ValueError as e:  # fsspec: "Protocol not known"
        raise ConfigError(
            f"Cannot use storage {scheme}://: {e}. Use a folder, s3://bucket/prefix or another "
            "fsspec URL."
        ) from e
    return store
