"""Packing a model directory into an archive (tar, tar.gz or tar.zst) for serving.

Members are stored relative to the model root (``./saved_model.pb``, ...), files sorted,
owners and times normalised, so the same directory always gives the same bytes.

Example:
    >>> import tempfile, pathlib
    >>> d = tempfile.mkdtemp(); _ = pathlib.Path(d, "saved_model.pb").write_bytes(b"x")
    >>> out = pack_archive(d, pathlib.Path(tempfile.mkdtemp(), "m.tar.gz"))
    >>> out.suffixes
    ['.tar', '.gz']
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path
from typing import IO, Any, Protocol


class Digest(Protocol):
    """What :func:`pack_archive` feeds the archive bytes to (e.g. ``hashlib.sha256()``)."""

    def update(self, data: bytes, /) -> None: ...


class _DigestingWriter:
    """Writes to ``out`` and feeds every byte to ``digest`` on the way."""

    def __init__(self, out: IO[bytes], digest: Digest) -> None:
        self._out, self._digest = out, digest

    def write(self, data: Any) -> int:
        self._digest.update(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


COMPRESSIONS = ("gzip", "zstd", "none")


def _open_compressed(out: IO[bytes], compression: str, level: int | None) -> IO[bytes]:
    if compression == "gzip":
        # No file name in the header: it would be the temporary name and differ per path.
        gz = gzip.GzipFile(filename="", fileobj=out, mode="wb", compresslevel=level or 6, mtime=0)
        return gz  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        cctx = zstandard.ZstdCompressor(level=level or 3, threads=-1)
        return cctx.stream_writer(out, closefd=False)
    if compression == "none":
        return out
    raise ValueError(f"Unknown compression {compression!r}; use one of {', '.join(COMPRESSIONS)}.")


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    return info


def pack_archive(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    compression: str = "gzip",
    level: int | None = None,
    digest: Digest | None = None,
) -> Path:
    """Writes ``model_dir`` as a tar archive to ``out_path`` (atomically) and returns it.

    Args:
        model_dir: the directory holding ``saved_model.pb`` or ``tfhub_module.pb``.
        out_path: where the archive goes; written to ``out_path + ".tmp"`` first.
        compression: ``gzip`` (what every client reads), ``zstd`` (faster) or ``none``.
        level: compression level (default 6 for gzip, 3 for zstd).
        digest: if given, fed the archive's bytes as they are written (no second read).

    Raises:
        FileNotFoundError: ``model_dir`` is not a directory.
        ValueError: unknown compression.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory; nothing to pack.")
    out = Path(out_path)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "wb") as file:
            raw: Any = file if digest is None else _DigestingWriter(file, digest)
            stream = _open_compressed(raw, compression, level)
            with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path in sorted(root.rglob("*")):
                    rel = "./" + path.relative_to(root).as_posix()
                    tar.add(path, arcname=rel, recursive=False, filter=_normalise)
            if stream is not raw:
                stream.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
