"""Safe, streaming extraction of untrusted model archives (tar, tar.gz, tar.zst).

The compression is detected from the first bytes, never from a name. The tar stream is parsed
here (only the 512-byte header block is decoded by :mod:`tarfile`), one member at a time, with
bounded memory: file data is copied in 1 MiB chunks and an extension header (PAX, GNU long
name) may hold at most 1 MiB.

Why nothing is ever written outside ``dest`` (a fresh directory the caller deletes on failure):

* A member name is split on ``/``; absolute names, drive letters, backslashes, NUL bytes and
  ``..`` components are refused, so a name is a plain relative path below ``dest``.
* Every directory on the way to a member is created by this module or checked with ``lstat``
  to be a real directory: nothing is ever written *through* a symlink (or below a file).
  A directory is never replaced, so a checked directory stays checked.
* A file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` after removing whatever held its
  name, so writing never follows a link.
* A symlink target must be relative and of the form ``../../a/b`` (only leading ``..``, at
  most as many as the link's own depth). It starts from a real directory inside ``dest``,
  climbs no higher than ``dest`` and then only descends, each step through a real
  directory or another such link: by induction every link resolves inside ``dest``.
* A hard link may only point to a regular file written earlier from this archive.
* Devices, FIFOs, sparse files and unknown member types are refused, and so are archives
  whose unpacked size or member count passes :class:`Limits`.

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
import stat
import tarfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from tfhub.core.manifest import ManifestEntry
from tfhub.errors import DownloadError, NotAnArchiveError, UnsafeArchiveError

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK = 512
_CHUNK = 1 << 20
_MAX_TRAILING = 64 << 20
"""Bytes accepted after the end-of-archive marker (tar writers pad with a few KiB of zeros)."""
_MAX_EXTENSION_BYTES = 1 << 20
"""Largest PAX or GNU long-name header accepted."""
_MAX_EXTENSIONS = 8
"""Most extension headers accepted in front of one member."""
_IN_FLIGHT = 4
"""Chunks (of up to 1 MiB) that may wait for the hashing thread."""
_INLINE_HASH = 256 << 10
_MAX_NAME_BYTES = 4096
_MAX_COMPONENT_BYTES = 255

_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE})
_PAX_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_LONG_TYPES = frozenset({tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})
_PAX_KEYS = frozenset({"path", "linkpath", "size"})
_REFUSED_TYPES = {
    tarfile.CHRTYPE: "is a character device",
    tarfile.BLKTYPE: "is a block device",
    tarfile.FIFOTYPE: "is a FIFO",
    tarfile.GNUTYPE_SPARSE: "is a sparse file (not supported)",
}
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True)
class Limits:
    """What an archive may unpack to at most: total file bytes and number of members."""

    max_bytes: int = 64 * 1024**3
    max_members: int = 100_000

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or self.max_members < 0:
            raise ValueError(f"archive limits must not be negative: {self}")


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
    if len(head) >= _BLOCK:
        try:
            tarfile.TarInfo.frombuf(head[:_BLOCK], "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return None
        return "tar"
    return None


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
        One manifest entry per regular file, hard link and symlink, in archive order.

    Raises:
        NotAnArchiveError: the bytes are not a (compressed) tar archive.
        UnsafeArchiveError: a member is unsafe or a limit is passed.
        DownloadError: the archive ends early or is damaged (truncated download).

    Errors raised by ``stream`` itself propagate unchanged. On any error ``dest`` may hold
    part of the model; the caller deletes it.
    """
    head = _read_head(stream, _BLOCK)
    kind = detect_compression(head)
    if kind is None:
        raise NotAnArchiveError(_not_an_archive(label, head, content_type))
    raw = io.BufferedReader(_Prefixed(head, stream), buffer_size=_CHUNK)
    source = _Source(_decompressed(raw, kind), kind, label)
    reader = _TarReader(source, label, content_type)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfhub-sha256") as pool:
        extractor = _Extractor(dest, label, limits or Limits(), on_file, pool)
        while (member := reader.next()) is not None:
            extractor.add(member, reader)
    reader.finish(raw)
    return extractor.manifest()


def _not_an_archive(label: str, head: bytes, content_type: str | None) -> str:
    got = f"got {content_type}" if content_type else f"it starts with {head[:16]!r}"
    return (
        f"{label} did not return a model archive ({got}); expected a tar, tar.gz or "
        "tar.zst archive. Check the handle."
    )


def _refusal(label: str, name: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"Refused the archive of {label}: member {name!r} {why}. "
        "Nothing was installed; ask the publisher for a clean archive."
    )


def _damaged(label: str, why: str) -> DownloadError:
    return DownloadError(
        f"The archive from {label} is truncated or corrupt: {why}. Try downloading it again."
    )


# -- Reading ------------------------------------------------------------------------------


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


def _decompressed(raw: io.BufferedReader[Any], kind: str) -> io.BufferedIOBase:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            raw, read_size=_CHUNK, read_across_frames=True, closefd=False
        )
        return io.BufferedReader(reader, buffer_size=_CHUNK)
    return raw


def _decoder_errors(kind: str) -> tuple[type[BaseException], ...]:
    """What the decompressor raises on bad or truncated input (not the stream's own errors)."""
    if kind == "gzip":
        return (EOFError, zlib.error, gzip.BadGzipFile)
    if kind == "zstd":
        import zstandard

        return (zstandard.ZstdError,)
    return ()


class _Source:
    """The decompressed tar bytes; a decompressor failure becomes a :class:`DownloadError`."""

    def __init__(self, data: io.BufferedIOBase, kind: str, label: str) -> None:
        self.kind = kind
        self._data = data
        self._errors = _decoder_errors(kind)
        self._label = label

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes (at least one unless the data has ended)."""
        try:
            return self._data.read(n)
        except self._errors as e:
            raise _damaged(self._label, f"the {self.kind} data is damaged ({e})") from e

    def read(self, n: int) -> bytes:
        """``n`` bytes, or fewer only at the end of the data."""
        chunks: list[bytes] = []
        got = 0
        while got < n and (chunk := self.read_some(n - got)):
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def skip(self, n: int) -> int:
        """Reads and drops up to ``n`` bytes; returns how many there were."""
        skipped = 0
        while skipped < n and (chunk := self.read_some(min(n - skipped, _CHUNK))):
            skipped += len(chunk)
        return skipped


@dataclass(frozen=True)
class _Member:
    """One archive member, with its PAX / GNU long-name extensions applied."""

    name: str
    type: bytes
    size: int
    mode: int
    linkname: str

    @property
    def has_data(self) -> bool:
        return self.type in _FILE_TYPES


class _TarReader:
    """Parses tar headers one at a time from a :class:`_Source`."""

    def __init__(self, source: _Source, label: str, content_type: str | None) -> None:
        self._source = source
        self._label = label
        self._content_type = content_type
        self._global: dict[str, str] = {}
        self._first = True
        self._remaining = 0  # unread data bytes of the current member
        self._padding = 0  # then zeros up to the next block

    def next(self) -> _Member | None:
        """The next member, or None at the end-of-archive marker."""
        self._skip(self._remaining + self._padding, "inside the data of a member")
        self._remaining = self._padding = 0
        extended: dict[str, str] = {}
        extensions = 0
        while (header := self._header()) is not None:
            if header.type in _PAX_TYPES:
                records = self._pax_records(header)
                (self._global if header.type == tarfile.XGLTYPE else extended).update(records)
            elif header.type in _LONG_TYPES:
                key = "path" if header.type == tarfile.GNUTYPE_LONGNAME else "linkpath"
                extended.setdefault(key, self._long_name(header))
            else:
                return self._member(header, {**self._global, **extended})
            extensions += 1
            if extensions > _MAX_EXTENSIONS:
                why = f"is more than {_MAX_EXTENSIONS} extension headers in a row"
                raise _refusal(self._label, header.name, why)
        return None

    def data(self) -> Iterator[bytes]:
        """The current member's data, in chunks of at most 1 MiB."""
        while self._remaining > 0:
            chunk = self._source.read_some(min(self._remaining, _CHUNK))
            if not chunk:
                raise _damaged(self._label, "it ends inside the data of a member")
            self._remaining -= len(chunk)
            yield chunk

    def finish(self, raw: io.BufferedIOBase) -> None:
        """Reads to the end (checks the gzip CRC / zstd frames, lets a download complete)."""
        trailing = self._source.skip(_MAX_TRAILING + 1)
        while trailing <= _MAX_TRAILING and (chunk := raw.read(_CHUNK)):
            trailing += len(chunk)
        if trailing > _MAX_TRAILING:
            raise UnsafeArchiveError(
                f"Refused the archive of {self._label}: more than {_MAX_TRAILING} bytes follow "
                "the end of the tar archive. Ask the publisher for a clean archive."
            )

    def _skip(self, n: int, where: str) -> None:
        if self._source.skip(n) != n:
            raise _damaged(self._label, f"it ends {where}")

    def _read(self, n: int, where: str) -> bytes:
        data = self._source.read(n)
        if len(data) != n:
            raise _damaged(self._label, f"it ends {where}")
        return data

    def _header(self) -> tarfile.TarInfo | None:
        block = self._source.read(_BLOCK)
        first, self._first = self._first, False
        if len(block) < _BLOCK:
            if first and self._source.kind == "gzip":  # gzip checked its own length: complete
                raise self._not_tar("it is too short")
            where = "before the first member" if first else "before the end-of-archive marker"
            raise _damaged(self._label, f"it ends {where}")
        if block.count(0) == _BLOCK:
            if first:
                raise NotAnArchiveError(f"{self._label} returned an empty archive (no files).")
            return None
        try:
            header = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            if first:
                raise self._not_tar(str(e)) from e
            raise _damaged(self._label, f"a tar header is damaged ({e})") from e
        if header.size < 0:
            raise _refusal(self._label, header.name, f"has a negative size ({header.size})")
        return header

    def _not_tar(self, why: str) -> NotAnArchiveError:
        got = f"; got {self._content_type}" if self._content_type else ""
        return NotAnArchiveError(
            f"{self._label} returned {self._source.kind} data that is not a tar archive "
            f"({why}{got}). Check the handle."
        )

    def _extension_data(self, header: tarfile.TarInfo) -> bytes:
        if header.size > _MAX_EXTENSION_BYTES:
            raise _refusal(
                self._label,
                header.name,
                f"is an extension header of {header.size} bytes (more than {_MAX_EXTENSION_BYTES})",
            )
        padded = -(-header.size // _BLOCK) * _BLOCK
        return self._read(padded, "inside an extension header")[: header.size]

    def _long_name(self, header: tarfile.TarInfo) -> str:
        data = self._extension_data(header)
        return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def _pax_records(self, header: tarfile.TarInfo) -> dict[str, str]:
        """The records of a PAX header that matter here (a linear parse, no regex)."""
        data = self._extension_data(header)
        records: dict[str, str] = {}
        pos = 0
        while pos < len(data) and data[pos] != 0:
            space = data.find(b" ", pos, pos + 21)
            digits = data[pos:space] if space > pos else b""
            end = pos + int(digits) if digits.isdigit() else 0  # always past ``space`` if valid
            if end <= space + 1 or end > len(data) or data[end - 1] != 0x0A:
                raise _refusal(self._label, header.name, "has a malformed PAX record")
            record = data[space + 1 : end - 1]
            key, equals, value = record.partition(b"=")
            if not equals:
                raise _refusal(self._label, header.name, "has a malformed PAX record")
            name = key.decode("utf-8", "replace")
            if name.startswith("GNU.sparse."):
                raise _refusal(self._label, header.name, "describes a sparse file (not supported)")
            if name in _PAX_KEYS:
                records[name] = value.decode("utf-8", "surrogateescape")
            pos = end
        return records

    def _member(self, header: tarfile.TarInfo, pax: dict[str, str]) -> _Member:
        name = pax.get("path", header.name)
        if header.type == tarfile.DIRTYPE:
            name = name.rstrip("/") or name  # as tarfile does for ustar names
        size = header.size
        if "size" in pax:
            if not pax["size"].isdigit() or not pax["size"].isascii():
                raise _refusal(self._label, name, f"has a malformed PAX size {pax['size']!r}")
            size = int(pax["size"])
        member = _Member(name, header.type, size, header.mode, pax.get("linkpath", header.linkname))
        if member.has_data:
            self._remaining = size
            self._padding = -size % _BLOCK
        return member


# -- Writing ------------------------------------------------------------------------------


def _unsafe(name: str, *, dotdot: bool = False) -> str | None:
    """Why ``name`` is not a plain relative path, or None (``..`` parts allowed if ``dotdot``)."""
    if "\0" in name:
        return "it has a NUL byte"
    if "\\" in name:
        return "it has a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        return "it is an absolute path"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not UTF-8"
    if len(encoded) > _MAX_NAME_BYTES:
        return f"it is longer than {_MAX_NAME_BYTES} bytes"
    parts = _parts(name)
    if not dotdot and ".." in parts:
        return "it escapes the model directory with '..'"
    if any(len(p.encode("utf-8")) > _MAX_COMPONENT_BYTES for p in parts):
        return f"it has a component longer than {_MAX_COMPONENT_BYTES} bytes"
    return None


def _parts(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


def _symlink_problem(parts: list[str], target: str) -> str | None:
    """Why a symlink at ``parts`` may not point to ``target`` (see the module docstring)."""
    problem = "it is empty" if not target else _unsafe(target, dotdot=True)
    if problem is not None:
        return f"is a symlink to {target!r}, refused because {problem}"
    steps = _parts(target)
    ups = 0
    while ups < len(steps) and steps[ups] == "..":
        ups += 1
    if ".." in steps[ups:] or ups > len(parts) - 1:
        return (
            f"is a symlink to {target!r}, which may point outside the model (a target may "
            "only start with '..', up to the model's top directory)"
        )
    return None


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


class _Hasher:
    """sha256 of one file, computed in order on a helper thread (hashlib releases the GIL).

    Hashing then overlaps decompression and writing; at most ``_IN_FLIGHT`` chunks wait.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._digest = hashlib.sha256()
        self._pending: deque[Future[None]] = deque()

    def update(self, chunk: bytes) -> None:
        if not self._pending and len(chunk) < _INLINE_HASH:
            self._digest.update(chunk)  # small: not worth a thread hop
            return
        if len(self._pending) >= _IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._digest.update, chunk))

    def hexdigest(self) -> str:
        while self._pending:
            self._pending.popleft().result()
        return self._digest.hexdigest()


class _Extractor:
    """Checks and writes one member at a time; never writes outside ``root``."""

    def __init__(
        self,
        root: str,
        label: str,
        limits: Limits,
        on_file: Callable[[int], None] | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.root = os.path.realpath(root)
        self.pool = pool
        self.label = label
        self.limits = limits
        self.on_file = on_file
        self.entries: dict[str, ManifestEntry] = {}
        self.files: set[str] = set()  # regular files written: the only hard-link sources
        self.dirs: set[str] = {""}  # checked real directories ("" is the root)
        self.total = 0
        self.count = 0

    def manifest(self) -> list[ManifestEntry]:
        return list(self.entries.values())

    def refuse(self, member: _Member, why: str) -> UnsafeArchiveError:
        return _refusal(self.label, member.name, why)

    def add(self, member: _Member, reader: _TarReader) -> None:
        self.count += 1
        if self.count > self.limits.max_members:
            raise self.refuse(
                member,
                f"passes the member limit ({self.limits.max_members}; TFHUB_MAX_ARCHIVE_MEMBERS)",
            )
        problem = _unsafe(member.name)
        if problem is not None:
            raise self.refuse(member, f"has an unsafe name: {problem}")
        parts = _parts(member.name)
        if member.type == tarfile.DIRTYPE:
            self.make_parents(member, parts)
            self.make_dir(member, parts)
        elif not parts:
            raise self.refuse(member, "has no name (it is the model directory itself)")
        elif member.has_data:
            self.write_file(member, parts, reader)
        elif member.type == tarfile.SYMTYPE:
            self.write_symlink(member, parts)
        elif member.type == tarfile.LNKTYPE:
            self.write_hardlink(member, parts)
        else:
            why = _REFUSED_TYPES.get(member.type, f"has an unsupported type {member.type!r}")
            raise self.refuse(member, why)

    def path(self, parts: list[str]) -> str:
        return os.path.join(self.root, *parts)

    def make_dir(self, member: _Member, parts: list[str]) -> None:
        name = "/".join(parts)
        if name in self.dirs:
            return
        path = self.path(parts)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise self.refuse(
                    member, f"needs {name!r} to be a directory, but it is a file or symlink"
                ) from None
        os.chmod(path, 0o755)
        self.dirs.add(name)

    def make_parents(self, member: _Member, parts: list[str]) -> None:
        for i in range(1, len(parts)):
            self.make_dir(member, parts[:i])

    def prepare(self, member: _Member, parts: list[str]) -> str:
        """The path for a new file or link at ``parts``, freed of an earlier member's."""
        self.make_parents(member, parts)
        name = "/".join(parts)
        path = self.path(parts)
        if name in self.dirs:
            raise self.refuse(member, "would replace a directory")
        try:
            os.unlink(path)  # a duplicate member: the last one wins
        except FileNotFoundError:
            return path
        except IsADirectoryError:  # not ours (``dest`` was not empty): refuse all the same
            raise self.refuse(member, "would replace a directory") from None
        self.entries.pop(name, None)
        self.files.discard(name)
        return path

    def count_bytes(self, member: _Member) -> None:
        self.total += member.size
        if self.total > self.limits.max_bytes:
            raise self.refuse(
                member,
                f"takes the unpacked size past the limit ({self.limits.max_bytes} bytes; "
                "TFHUB_MAX_ARCHIVE_BYTES)",
            )

    def write_file(self, member: _Member, parts: list[str], reader: _TarReader) -> None:
        self.count_bytes(member)
        path = self.prepare(member, parts)
        digest = _Hasher(self.pool)
        fd = os.open(path, _CREATE_FLAGS, 0o600)
        try:
            for chunk in reader.data():
                digest.update(chunk)
                _write_all(fd, memoryview(chunk))
                if self.on_file is not None:
                    self.on_file(len(chunk))
            mode = 0o755 if member.mode & 0o111 else 0o644
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows
                os.chmod(path, mode)
        finally:
            os.close(fd)
        name = "/".join(parts)
        self.files.add(name)
        self.entries[name] = ManifestEntry(name, member.size, digest.hexdigest())

    def write_symlink(self, member: _Member, parts: list[str]) -> None:
        problem = _symlink_problem(parts, member.linkname)
        if problem is not None:
            raise self.refuse(member, problem)
        path = self.prepare(member, parts)
        os.symlink(member.linkname, path)
        name = "/".join(parts)
        self.entries[name] = ManifestEntry(name, 0, "", link=member.linkname)

    def write_hardlink(self, member: _Member, parts: list[str]) -> None:
        name = "/".join(parts)
        target = member.linkname
        source = "/".join(_parts(target)) if _unsafe(target) is None else None
        if source == name:
            raise self.refuse(member, "is a hard link to itself")
        if source is None or source not in self.files:
            raise self.refuse(
                member, f"is a hard link to {target!r}, which is not an earlier file of the model"
            )
        path = self.prepare(member, parts)
        os.link(self.path(source.split("/")), path, follow_symlinks=False)
        self.files.add(name)
        self.entries[name] = ManifestEntry(
            name, self.entries[source].size, self.entries[source].sha256
        )
