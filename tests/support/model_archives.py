"""Model archives with known contents, and checks that an installed copy matches them."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

from support.archives import dir_member, file_member, tar_bytes


def random_model_archive(size: int = 600_000, compression: str = "none", seed: int = 0) -> bytes:
    """A model archive whose variables file is ``size`` incompressible bytes, so the archive
    stays big enough to be cut, stalled and resumed whatever the compression."""
    data = random.Random(seed).randbytes(size)
    members = [
        dir_member("./"),
        dir_member("./variables"),
        file_member("./saved_model.pb", b"\x08\x01" + bytes(range(256)) * 4 + bytes([seed % 256])),
        file_member("./variables/variables.index", b"index" * 20),
        file_member("./variables/variables.data-00000-of-00001", data),
        file_member("./assets/..vocab.txt", b"hello\nworld\n"),
    ]
    return tar_bytes(members, compression)


def archive_files(archive: bytes) -> dict[str, bytes]:
    """Relative path -> content of every regular file in ``archive`` (any compression)."""
    if archive[:2] == b"\x1f\x8b":
        import gzip

        archive = gzip.decompress(archive)
    elif archive[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        archive = zstandard.ZstdDecompressor().decompressobj().decompress(archive)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[os.path.normpath(member.name)] = extracted.read()
    return files


def disk_files(root: str) -> dict[str, bytes]:
    """Relative path -> content of every regular file under ``root``."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                files[os.path.relpath(full, root)] = f.read()
    return files


def assert_model(path: str, archive: bytes) -> None:
    """``path`` holds exactly the files of ``archive``, byte for byte."""
    assert os.path.isdir(path), path
    assert disk_files(path) == archive_files(archive)


def listing(cache_dir: Path | str, sub: str) -> list[str]:
    """Sorted names in ``cache_dir/sub`` ([] if the folder does not exist)."""
    path = Path(cache_dir, sub)
    return sorted(os.listdir(path)) if path.is_dir() else []


def assert_nothing_installed(cache_dir: Path | str) -> None:
    """No model, no install in progress and no partial download is left in the cache."""
    for sub in ("models", "staging", "partial"):
        assert listing(cache_dir, sub) == [], f"{sub}/ is not empty: {listing(cache_dir, sub)}"
