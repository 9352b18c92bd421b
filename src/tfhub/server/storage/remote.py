"""Object storage (``s3://bucket/prefix``, ``gs://...``) as the hub's store, through fsspec.

Credentials and endpoints come from the usual environment (``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL``, ...). Objects are immutable once written (each publish gets a fresh
prefix), so listings are the only thing read fresh each time.

Example:
    >>> import tempfile, pathlib
    >>> store = FsspecStorage("memory://hub-doctest")
    >>> src = pathlib.Path(tempfile.mkdtemp(), "a.bin"); _ = src.write_bytes(b"hello")
    >>> store.put_file("objects/x/a.bin", str(src))
    >>> b"".join(store.read("objects/x/a.bin", 1, 3, 2)), store.location("objects/x/a.bin")
    (b'ell', 'memory:///hub-doctest/objects/x/a.bin')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tfhub.server.storage import check_key, put_tree

_GET_BYTES = 8 << 20
"""Bytes per ranged GET when streaming an object."""


class FsspecStorage:
    """Keys are objects below ``url`` in the fsspec file system of its scheme."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        fs, root = fsspec.core.url_to_fs(url)
        self.fs: Any = fs
        self.root: str = str(root).rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecStorage({self.fs.unstrip_protocol(self.root)!r})"

    def path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def put_file(self, key: str, source: str, *, move: bool = False) -> None:
        self.fs.put_file(source, self.path(key))

    def put_tree(self, prefix: str, source_dir: str, *, move: bool = False) -> int:
        return put_tree(self, prefix, source_dir, move=move)  # put_file never moves

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def read(self, key: str, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
        path, end = self.path(key), start + length
        while start < end:
            data: bytes = self.fs.cat_file(path, start=start, end=min(end, start + _GET_BYTES))
            if not data:
                raise OSError(f"{key} is shorter than expected")
            start += len(data)
            for i in range(0, len(data), chunk_size):
                yield data[i : i + chunk_size]

    def local_path(self, key: str) -> str | None:
        return None

    def location(self, key: str) -> str:
        return str(self.fs.unstrip_protocol(self.path(key)))

    def list_prefixes(self, prefix: str) -> list[str]:
        path = self.path(prefix)
        self.fs.invalidate_cache(path)
        try:
            names = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted({str(n).rstrip("/").rsplit("/", 1)[-1] for n in names})

    def delete_prefix(self, prefix: str) -> None:
        path = self.path(prefix)
        self.fs.invalidate_cache(path)
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(path)
