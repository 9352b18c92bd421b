"""Build real (and hostile) archives in memory for tests."""

from __future__ import annotations

import io
import tarfile

import zstandard


def tar_bytes(
    members: list[tuple[tarfile.TarInfo, bytes | None]], compression: str = "gz"
) -> bytes:
    """A tar archive of ``members`` (``TarInfo``, data); ``compression``: gz, zst or none."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return compress(raw.getvalue(), compression)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gz":
        import gzip

        return gzip.compress(data, compresslevel=6)
    if compression == "zst":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


def file_member(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def dir_member(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def link_member(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def special_member(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def model_archive(compression: str = "gz", *, size: int = 4096, with_dirs: bool = True) -> bytes:
    """A small archive shaped like a SavedModel (not loadable by TF; for cache tests)."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    if with_dirs:
        members += [dir_member("./"), dir_member("./variables"), dir_member("./assets")]
    members += [
        file_member("./saved_model.pb", b"\x08\x01" + bytes(range(256)) * 4),
        file_member("./variables/variables.index", b"index" * 20),
        file_member("./variables/variables.data-00000-of-00001", bytes(size)),
        file_member("./assets/..vocab.txt", b"hello\nworld\n"),
    ]
    return tar_bytes(members, compression)
