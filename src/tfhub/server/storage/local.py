"""A local folder as the hub's store (the embedded default).

Files are written under a temporary name and renamed into place, so a reader never sees
half a file. Keys are checked (no ``..``, no absolute paths) before any path is built.

Example:
    >>> import tempfile, pathlib
    >>> store = LocalStorage(tempfile.mkdtemp())
    >>> src = pathlib.Path(tempfile.mkdtemp(), "a.bin"); _ = src.write_bytes(b"hello")
    >>> store.put_file("objects/x/a.bin", str(src))
    >>> b"".join(store.read("objects/x/a.bin", 1, 3, 2)), store.list_prefixes("objects")
    (b'ell', ['x'])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

from tfhub.server.storage import check_key, put_tree


class LocalStorage:
    """Keys are files below ``root`` (a path or a ``file://`` URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = urllib.parse.urlsplit(url).path if url.startswith("file://") else url
        self.root = os.path.abspath(os.path.expanduser(urllib.parse.unquote(path)))
        os.makedirs(self.root, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({self.root!r})"

    def path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def put_file(self, key: str, source: str, *, move: bool = False) -> None:
        target = self.path(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            if move:
                try:
                    os.replace(source, tmp)  # same file system: no copy
                except OSError:
                    shutil.copyfile(source, tmp)
            else:
                shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_tree(self, prefix: str, source_dir: str, *, move: bool = False) -> int:
        return put_tree(self, prefix, source_dir, move=move)

    def size(self, key: str) -> int:
        return os.stat(self.path(key)).st_size

    def read(self, key: str, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
        with open(self.path(key), "rb") as f:
            f.seek(start)
            while length > 0:
                piece = f.read(min(chunk_size, length))
                if not piece:
                    raise OSError(f"{key} is shorter than expected")
                length -= len(piece)
                yield piece

    def local_path(self, key: str) -> str | None:
        return self.path(key)

    def location(self, key: str) -> str:
        return Path(self.path(key)).as_uri()

    def list_prefixes(self, prefix: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(prefix)))
        except FileNotFoundError:
            return []

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)
