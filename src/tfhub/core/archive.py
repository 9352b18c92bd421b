"""Safe, streaming extraction of untrusted model archives (tar, tar.gz, tar.zst).

The compression is detected from the first bytes, never from a name. Every member is checked
*before* anything is written for it; the only place written to is ``dest`` (a fresh temporary
directory the caller deletes on failure). Refused: absolute names, ``..`` components, links
pointing outside the model, devices and FIFOs, and archives past a size or member limit.

Example:
    >>> import io, tarfile, tempfile
    >>> buf = io.BytesIO()
    >>> with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    ...     info = tarfile.TarInfo("saved_model.pb"); info.size = 3
    ...     tar.addfile(info, io.BytesIO(b"abc"))
    >>> entries = extract_archive(io.BytesIO(buf.getvalue()), tempfile.mkdtemp(), label="demo")
    >>> [(e.path, e.size) for e in entries]
    [('saved_model.pb', 3)]
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from tfhub.core.manifest import ManifestEntry
from tfhub.errors import DownloadError, NotAnArchiveError, UnsafeArchiveError

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_COPY_CHUNK = 1 << 20
_MAX_TRAILING = 64 << 20
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


@dataclass(frozen=True)
class Limits:
    """What an archive may unpack to at most."""

    max_bytes: int = 64 * 1024**3
    max_members: int = 100_000


def detect_compression(head: bytes) -> str | None:
    """``"gzip"``, ``"zstd"``, ``"tar"`` or None, judged by content only.

    >>> detect_compression(b"\\x1f\\x8b\\x08\\x00")
    'gzip'
    >>> detect_compression(b"<!doctype html>") is None
    True
    """
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 512:
        try:
            tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return None
        return "tar"
    return None


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``stream``: lets us sniff bytes without seeking."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            return int(readinto(buffer))
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: IO[bytes], n: int) -> bytes:
    head = b""
    while len(head) < n:
        chunk = stream.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _decompressed(stream: IO[bytes], kind: str) -> IO[bytes]:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            stream, read_size=_COPY_CHUNK, read_across_frames=True
        )
        return io.BufferedReader(reader, buffer_size=_COPY_CHUNK)
    return stream


def extract_archive(
    stream: IO[bytes],
    dest: str,
    *,
    label: str,
    limits: Limits | None = None,
    content_type: str | None = None,
    on_file: Callable[[int], None] | None = None,
) -> list[ManifestEntry]:
    """Extracts the tar archive read from ``stream`` into the existing directory ``dest``.

    Args:
        stream: the (possibly compressed) archive bytes, read once from start to end.
        dest: an empty directory that receives the model files.
        label: the handle, named in error messages.
        limits: size and member-count limits (defaults: :class:`Limits`).
        content_type: the server's Content-Type, named if the bytes are not an archive.
        on_file: called with the byte count of each written chunk (progress).

    Returns:
        One manifest entry per regular file and symlink written.

    Raises:
        NotAnArchiveError: the bytes are not a (compressed) tar archive.
        UnsafeArchiveError: a member is unsafe or a limit is passed.
        DownloadError: the archive ends early (truncated download).
    """
    head = _read_head(stream, 512)
    kind = detect_compression(head)
    if kind is None:
        got = f" (got {content_type})" if content_type else ""
        raise NotAnArchiveError(f"{label} did not return a model archive{got}.")
    extractor = _Extractor(dest, label, limits or Limits(), on_file)
    stream = io.BufferedReader(_Prefixed(head, stream), buffer_size=_COPY_CHUNK)
    try:
        data = _decompressed(stream, kind)
        with tarfile.open(fileobj=data, mode="r|", bufsize=_COPY_CHUNK) as tar:
            for member in tar:
                extractor.add(tar, member)
        # Read to the end: checks the gzip CRC / zstd frame and lets the download finish.
        trailing = 0
        while chunk := data.read(_COPY_CHUNK):
            trailing += len(chunk)
            if trailing > _MAX_TRAILING:
                raise UnsafeArchiveError(
                    f"Refused archive from {label}: more than {_MAX_TRAILING} bytes follow "
                    "the end of the tar archive."
                )
        while stream.read(_COPY_CHUNK):
            pass
    except (EOFError, zlib.error, tarfile.ReadError, OSError) as e:
        if isinstance(e, DownloadError | UnsafeArchiveError):
            raise
        if isinstance(e, tarfile.ReadError) and not extractor.entries and kind != "tar":
            raise NotAnArchiveError(
                f"{label} returned {kind} data that is not a tar archive ({e})."
            ) from e
        raise DownloadError(f"The archive from {label} is truncated or corrupt: {e}.") from e
    except Exception as e:
        if type(e).__module__.startswith("zstandard"):
            raise DownloadError(f"The archive from {label} is corrupt: {e}.") from e
        raise
    return extractor.entries


class _Extractor:
    """Checks and writes one member at a time; never writes outside ``root``."""

    def __init__(
        self, root: str, label: str, limits: Limits, on_file: Callable[[int], None] | None
    ) -> None:
        self.root = os.path.realpath(root)
        self.label = label
        self.limits = limits
        self.on_file = on_file
        self.entries: list[ManifestEntry] = []
        self.files: set[str] = set()
        self.total = 0
        self.count = 0

    def refuse(self, member: tarfile.TarInfo, why: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(
            f"Refused archive from {self.label}: member {member.name!r} {why}. "
            "Nothing was installed; ask the publisher for a clean archive."
        )

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.count += 1
        if self.count > self.limits.max_members:
            raise self.refuse(
                member,
                f"passes the member limit ({self.limits.max_members}; TFHUB_MAX_ARCHIVE_MEMBERS)",
            )
        name = self.safe_name(member, member.name)
        if name is None:
            return  # the archive's own root ("." or "./")
        if member.isdir():
            self.make_dirs(member, name)
        elif member.type in _FILE_TYPES:
            self.write_file(tar, member, name)
        elif member.issym():
            self.write_symlink(member, name)
        elif member.islnk():
            self.write_hardlink(member, name)
        elif member.ischr() or member.isblk():
            raise self.refuse(member, "is a device file")
        elif member.isfifo():
            raise self.refuse(member, "is a FIFO")
        else:
            raise self.refuse(member, f"has an unsupported type {member.type!r}")

    def safe_name(self, member: tarfile.TarInfo, raw: str) -> str | None:
        if "\x00" in raw:
            raise self.refuse(member, "has a NUL byte in its name")
        if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
            raise self.refuse(member, "has an absolute path")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            raise self.refuse(member, "escapes the model directory with '..'")
        return "/".join(parts) or None

    def target_path(self, member: tarfile.TarInfo, name: str) -> str:
        path = os.path.join(self.root, *name.split("/"))
        parent = os.path.realpath(os.path.dirname(path))
        if parent != self.root and not parent.startswith(self.root + os.sep):
            raise self.refuse(member, "would be written through a link outside the model")
        return path

    def make_dirs(self, member: tarfile.TarInfo, name: str) -> None:
        path = self.target_path(member, name)
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            raise self.refuse(member, "replaces an earlier file or link with a directory")
        os.makedirs(path, mode=0o755, exist_ok=True)

    def ensure_parent(self, member: tarfile.TarInfo, name: str) -> str:
        if "/" in name:
            self.make_dirs(member, name.rsplit("/", 1)[0])
        path = self.target_path(member, name)
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                raise self.refuse(member, "replaces a directory with a file")
            os.unlink(path)
            self.entries = [e for e in self.entries if e.path != name]
            self.files.discard(name)
        return path

    def count_bytes(self, member: tarfile.TarInfo, size: int) -> None:
        self.total += size
        if self.total > self.limits.max_bytes:
            raise self.refuse(
                member,
                f"takes the unpacked size past the limit ({self.limits.max_bytes} bytes; "
                "TFHUB_MAX_ARCHIVE_BYTES)",
            )

    def write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        self.count_bytes(member, member.size)
        path = self.ensure_parent(member, name)
        source = tar.extractfile(member)
        assert source is not None
        digest = hashlib.sha256()
        mode = 0o755 if member.mode & 0o111 else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        written = 0
        try:
            while chunk := source.read(_COPY_CHUNK):
                digest.update(chunk)
                os.write(fd, chunk)
                written += len(chunk)
                if self.on_file is not None:
                    self.on_file(len(chunk))
        finally:
            os.close(fd)
        if written != member.size:
            raise DownloadError(
                f"The archive from {self.label} is truncated: {name!r} has {written} of "
                f"{member.size} bytes."
            )
        self.files.add(name)
        self.entries.append(ManifestEntry(name, written, digest.hexdigest()))

    def write_symlink(self, member: tarfile.TarInfo, name: str) -> None:
        target = member.linkname
        if not target or target.startswith("/"):
            raise self.refuse(member, f"is a symlink to an absolute path {target!r}")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if joined == ".." or joined.startswith("../") or joined.startswith("/"):
            raise self.refuse(member, f"is a symlink pointing outside the model ({target!r})")
        path = self.ensure_parent(member, name)
        os.symlink(target, path)
        self.entries.append(ManifestEntry(name, 0, "", link=target))

    def write_hardlink(self, member: tarfile.TarInfo, name: str) -> None:
        source = self.safe_name(member, member.linkname)
        if source is None or source not in self.files:
            raise self.refuse(
                member, f"is a hard link to {member.linkname!r}, which is not a file in the model"
            )
        src_entry = next(e for e in self.entries if e.path == source)
        self.count_bytes(member, src_entry.size)
        path = self.ensure_parent(member, name)
        src_path = self.target_path(member, source)
        if os.path.islink(src_path) or not stat.S_ISREG(os.lstat(src_path).st_mode):
            raise self.refuse(member, "is a hard link to something that is not a regular file")
        os.link(src_path, path, follow_symlinks=False)
        self.files.add(name)
        self.entries.append(ManifestEntry(name, src_entry.size, src_entry.sha256))
