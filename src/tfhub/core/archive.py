"""Safe, streaming extraction of untrusted model archives (tar, tar.gz, tar.zst).

The archive is read by :mod:`tfhub.core.tarstream` (compression detected from the first bytes,
one member at a time, bounded memory); this module decides what each member may become and
writes it. File data is written and hashed in chunks of up to 1 MiB on a helper thread.

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

import contextlib
import hashlib
import os
import stat
import tarfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from tfhub.core.manifest import ManifestEntry
from tfhub.core.tarstream import Member, TarReader, detect_compression, open_tar, refusal
from tfhub.errors import UnsafeArchiveError

__all__ = ["Limits", "detect_compression", "extract_archive"]

_IN_FLIGHT = 2
"""Chunks (of up to 1 MiB) that may wait for the writing thread."""
_INLINE = 256 << 10
"""Chunks smaller than this are written and hashed on the caller's thread."""
_MAX_NAME_BYTES = 4096
_MAX_COMPONENT_BYTES = 255

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
    reader = open_tar(stream, label=label, content_type=content_type)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfhub-write") as pool:
        extractor = _Extractor(dest, label, limits or Limits(), on_file, pool)
        while (member := reader.next()) is not None:
            extractor.add(member, reader)
    reader.finish()
    return extractor.manifest()


# -- Checking names -----------------------------------------------------------------------


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


# -- Writing ------------------------------------------------------------------------------


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


class _FileSink:
    """Writes one file and computes its sha256, in order, on a helper thread.

    ``os.write`` and hashlib release the GIL, so both overlap decompression on the caller's
    thread; at most ``_IN_FLIGHT`` chunks (of up to 1 MiB) wait. Errors (a full disk) are
    raised by the next :meth:`add` or by :meth:`finish`. Small chunks are handled inline.
    """

    def __init__(self, pool: ThreadPoolExecutor, fd: int) -> None:
        self._pool = pool
        self._fd = fd
        self._digest = hashlib.sha256()
        self._pending: deque[Future[None]] = deque()

    def add(self, chunk: bytes) -> None:
        """Queues ``chunk`` for writing and hashing (after the chunks before it)."""
        if not self._pending and len(chunk) < _INLINE:
            self._consume(chunk)  # small: not worth a thread hop
            return
        if len(self._pending) >= _IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._consume, chunk))

    def finish(self) -> str:
        """Waits for every chunk to be written; returns the file's sha256."""
        while self._pending:
            self._pending.popleft().result()
        return self._digest.hexdigest()

    def abandon(self) -> None:
        """Waits for queued chunks, ignoring their errors (the caller is failing already)."""
        while self._pending:
            with contextlib.suppress(Exception):
                self._pending.popleft().result()

    def _consume(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        _write_all(self._fd, memoryview(chunk))


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

    def refuse(self, member: Member, why: str) -> UnsafeArchiveError:
        return refusal(self.label, member.name, why)

    def add(self, member: Member, reader: TarReader) -> None:
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

    def make_dir(self, member: Member, parts: list[str]) -> None:
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

    def make_parents(self, member: Member, parts: list[str]) -> None:
        for i in range(1, len(parts)):
            self.make_dir(member, parts[:i])

    def prepare(self, member: Member, parts: list[str]) -> str:
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

    def count_bytes(self, member: Member) -> None:
        self.total += member.size
        if self.total > self.limits.max_bytes:
            raise self.refuse(
                member,
                f"takes the unpacked size past the limit ({self.limits.max_bytes} bytes; "
                "TFHUB_MAX_ARCHIVE_BYTES)",
            )

    def write_file(self, member: Member, parts: list[str], reader: TarReader) -> None:
        self.count_bytes(member)
        path = self.prepare(member, parts)
        fd = os.open(path, _CREATE_FLAGS, 0o600)
        sink = _FileSink(self.pool, fd)
        try:
            for chunk in reader.data():
                sink.add(chunk)
                if self.on_file is not None:
                    self.on_file(len(chunk))
            sha256 = sink.finish()
            mode = 0o755 if member.mode & 0o111 else 0o644
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows
                os.chmod(path, mode)
        finally:
            sink.abandon()  # nothing may write to ``fd`` once it is closed
            os.close(fd)
        name = "/".join(parts)
        self.files.add(name)
        self.entries[name] = ManifestEntry(name, member.size, sha256)

    def write_symlink(self, member: Member, parts: list[str]) -> None:
        problem = _symlink_problem(parts, member.linkname)
        if problem is not None:
            raise self.refuse(member, problem)
        path = self.prepare(member, parts)
        os.symlink(member.linkname, path)
        name = "/".join(parts)
        self.entries[name] = ManifestEntry(name, 0, "", link=member.linkname)

    def write_hardlink(self, member: Member, parts: list[str]) -> None:
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
