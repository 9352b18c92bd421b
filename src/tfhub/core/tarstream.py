"""Reading untrusted tar streams (tar, tar.gz, tar.zst) one member at a time, bounded.

This module turns a byte stream into :class:`Member` records and their data; it writes nothing.
What may be written, and where, is decided by :mod:`tfhub.core.archive`.

* The compression is detected from the first bytes, never from a name
  (:func:`detect_compression`), and the stream is read once, without seeking.
* Only the 512-byte header block is decoded by :mod:`tarfile`; the header loop, the PAX and
  GNU long-name extension headers and the end-of-archive marker are handled here.
* Memory stays bounded: member data comes in chunks of at most 1 MiB, an extension header may
  hold at most 1 MiB, at most 8 of them may precede a member, and at most 64 MiB may follow
  the end-of-archive marker.
* A damaged or truncated stream raises :class:`~tfhub.errors.DownloadError`; bytes that are not
  a tar archive raise :class:`~tfhub.errors.NotAnArchiveError`; a header this module will not
  read (sparse files, oversized or malformed extensions) raises
  :class:`~tfhub.errors.UnsafeArchiveError`.

Example:
    >>> import io, tarfile
    >>> buf = io.BytesIO()
    >>> with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    ...     info = tarfile.TarInfo("variables/data.bin"); info.size = 2
    ...     tar.addfile(info, io.BytesIO(b"hi"))
    >>> reader = open_tar(io.BytesIO(buf.getvalue()), label="demo")
    >>> member = reader.next()
    >>> member.name, member.size, b"".join(reader.data())
    ('variables/data.bin', 2, b'hi')
    >>> reader.next() is None
    True
    >>> reader.finish()
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast

from tfhub.errors import DownloadError, NotAnArchiveError, UnsafeArchiveError

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
"""zlib reads the gzip header and checks the CRC-32 and length in the trailer itself."""
_BLOCK = 512
_CHUNK = 1 << 20
_MAX_TRAILING = 64 << 20
"""Bytes accepted after the end-of-archive marker (tar writers pad with a few KiB of zeros)."""
_MAX_EXTENSION_BYTES = 1 << 20
"""Largest PAX or GNU long-name header accepted."""
_MAX_EXTENSIONS = 8
"""Most extension headers accepted in front of one member."""

_FILE_TYPES = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE})
_PAX_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_LONG_TYPES = frozenset({tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK})
_PAX_KEYS = frozenset({"path", "linkpath", "size"})


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


def open_tar(stream: IO[bytes], *, label: str, content_type: str | None = None) -> TarReader:
    """A :class:`TarReader` over ``stream``, whose compression is detected from its first bytes.

    Args:
        stream: the (possibly compressed) archive bytes, read once from start to end.
        label: the handle, named in error messages.
        content_type: the server's Content-Type, named if the bytes are not an archive.

    Raises:
        NotAnArchiveError: the first bytes are neither gzip, zstd nor a tar header.
    """
    head = _read_head(stream, _BLOCK)
    kind = detect_compression(head)
    if kind is None:
        raise NotAnArchiveError(_not_an_archive(label, head, content_type))
    raw = _Prefixed(head, stream)
    source = _Source(_decompressed(raw, kind), kind, label)
    return TarReader(source, raw, label, content_type)


def refusal(label: str, name: str, why: str) -> UnsafeArchiveError:
    """The error for a member ``name`` of the archive of ``label`` that is refused ``why``."""
    return UnsafeArchiveError(
        f"Refused the archive of {label}: member {name!r} {why}. "
        "Nothing was installed; ask the publisher for a clean archive."
    )


def _not_an_archive(label: str, head: bytes, content_type: str | None) -> str:
    got = f"got {content_type}" if content_type else f"it starts with {head[:16]!r}"
    return (
        f"{label} did not return a model archive ({got}); expected a tar, tar.gz or "
        "tar.zst archive. Check the handle."
    )


def _damaged(label: str, why: str) -> DownloadError:
    return DownloadError(
        f"The archive from {label} is truncated or corrupt: {why}. Try downloading it again."
    )


# -- Bytes --------------------------------------------------------------------------------


class _Readable(Protocol):
    """What the readers here need of a stream: ``read(n)``, up to ``n`` bytes (b"" at the
    end)."""

    def read(self, n: int, /) -> bytes: ...


class _Prefixed:
    """``head`` followed by the rest of ``stream``: lets us sniff bytes without seeking.

    Chunks of ``stream`` are passed on as they are read, without copying.
    """

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int) -> bytes:
        if self._head:
            head, self._head = self._head[:n], self._head[n:]
            return head
        return self._stream.read(n)


class _Gunzip:
    """gzip data (one or more members, RFC 1952) decompressed by zlib in large steps.

    zlib reads each member's header and checks its CRC-32 and length; zero padding between
    members is skipped (as :mod:`gzip` does). A call returns at most ``n`` bytes, so a highly
    compressed "bomb" never sits in memory at once.
    """

    def __init__(self, raw: _Readable) -> None:
        self._raw = raw
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""
        self._ended = False

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (at least one unless the data has ended)."""
        while not self._ended and n > 0:
            if self._zlib.eof:
                self._next_member()
                continue
            data = self._zlib.unconsumed_tail or self._take_input()
            if not data:
                raise EOFError("the data ends before the end of the last gzip member")
            out = self._zlib.decompress(data, n)
            if out:
                return out
        return b""

    def _take_input(self) -> bytes:
        data, self._input = self._input or self._raw.read(_CHUNK), b""
        return data

    def _next_member(self) -> None:
        rest = self._zlib.unused_data.lstrip(b"\0")
        while not rest:
            more = self._raw.read(_CHUNK)
            if not more:
                self._ended = True
                return
            rest = more.lstrip(b"\0")
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._input = rest


def _read_head(stream: IO[bytes], n: int) -> bytes:
    head = b""
    while len(head) < n:
        chunk = stream.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _decompressed(raw: _Readable, kind: str) -> _Readable:
    if kind == "gzip":
        return _Gunzip(raw)
    if kind == "zstd":
        import zstandard

        reader: _Readable = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], raw), read_size=_CHUNK, read_across_frames=True, closefd=False
        )
        return reader
    return raw


def _decoder_errors(kind: str) -> tuple[type[BaseException], ...]:
    """What the decompressor raises on bad or truncated input (not the stream's own errors)."""
    if kind == "gzip":
        return (EOFError, zlib.error)
    if kind == "zstd":
        import zstandard

        return (zstandard.ZstdError,)
    return ()


class _Source:
    """The decompressed tar bytes; a decompressor failure becomes a :class:`DownloadError`."""

    def __init__(self, data: _Readable, kind: str, label: str) -> None:
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


# -- Tar headers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One archive member, with its PAX / GNU long-name extensions applied."""

    name: str
    type: bytes
    size: int
    mode: int
    linkname: str

    @property
    def has_data(self) -> bool:
        return self.type in _FILE_TYPES


class TarReader:
    """Parses tar headers one at a time from a :class:`_Source` (made by :func:`open_tar`).

    Call :meth:`next` for each member (and :meth:`data` for its bytes, or not: unread data is
    skipped), then :meth:`finish` once :meth:`next` returned None.
    """

    def __init__(
        self, source: _Source, raw: _Readable, label: str, content_type: str | None
    ) -> None:
        self._source = source
        self._raw = raw
        self._label = label
        self._content_type = content_type
        self._global: dict[str, str] = {}
        self._first = True
        self._remaining = 0  # unread data bytes of the current member
        self._padding = 0  # then zeros up to the next block

    def next(self) -> Member | None:
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
                raise refusal(self._label, header.name, why)
        return None

    def data(self) -> Iterator[bytes]:
        """The current member's data, in chunks of at most 1 MiB."""
        while self._remaining > 0:
            chunk = self._source.read_some(min(self._remaining, _CHUNK))
            if not chunk:
                raise _damaged(self._label, "it ends inside the data of a member")
            self._remaining -= len(chunk)
            yield chunk

    def finish(self) -> None:
        """Reads to the end (checks the gzip CRC / zstd frames, lets a download complete)."""
        trailing = self._source.skip(_MAX_TRAILING + 1)
        while trailing <= _MAX_TRAILING and (chunk := self._raw.read(_CHUNK)):
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
            raise refusal(self._label, header.name, f"has a negative size ({header.size})")
        return header

    def _not_tar(self, why: str) -> NotAnArchiveError:
        got = f"; got {self._content_type}" if self._content_type else ""
        return NotAnArchiveError(
            f"{self._label} returned {self._source.kind} data that is not a tar archive "
            f"({why}{got}). Check the handle."
        )

    def _extension_data(self, header: tarfile.TarInfo) -> bytes:
        if header.size > _MAX_EXTENSION_BYTES:
            raise refusal(
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
                raise refusal(self._label, header.name, "has a malformed PAX record")
            record = data[space + 1 : end - 1]
            key, equals, value = record.partition(b"=")
            if not equals:
                raise refusal(self._label, header.name, "has a malformed PAX record")
            name = key.decode("utf-8", "replace")
            if name.startswith("GNU.sparse."):
                raise refusal(self._label, header.name, "describes a sparse file (not supported)")
            if name in _PAX_KEYS:
                records[name] = value.decode("utf-8", "surrogateescape")
            pos = end
        return records

    def _member(self, header: tarfile.TarInfo, pax: dict[str, str]) -> Member:
        name = pax.get("path", header.name)
        if header.type == tarfile.DIRTYPE:
            name = name.rstrip("/") or name  # as tarfile does for ustar names
        size = header.size
        if "size" in pax:
            if not pax["size"].isdigit() or not pax["size"].isascii():
                raise refusal(self._label, name, f"has a malformed PAX size {pax['size']!r}")
            size = int(pax["size"])
        member = Member(name, header.type, size, header.mode, pax.get("linkpath", header.linkname))
        if member.has_data:
            self._remaining = size
            self._padding = -size % _BLOCK
        return member
