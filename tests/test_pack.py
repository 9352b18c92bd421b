"""Packing a model directory into a served archive: deterministic, atomic, hashed as written."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from tfhub.core.pack import COMPRESSIONS, pack_archive


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph" * 1000)
    (root / "variables" / "variables.index").write_bytes(b"index")
    return root


def _members(archive: Path, compression: str) -> dict[str, bytes]:
    data = archive.read_bytes()
    if compression == "zstd":
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    mode = "r:gz" if compression == "gzip" else "r:"
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_digest_is_the_sha256_of_the_written_archive(
    model_dir: Path, tmp_path: Path, compression: str
) -> None:
    digest = hashlib.sha256()
    out = pack_archive(model_dir, tmp_path / "m.tar", compression=compression, digest=digest)
    assert digest.hexdigest() == hashlib.sha256(out.read_bytes()).hexdigest()
    assert _members(out, compression) == {
        "./saved_model.pb": b"graph" * 1000,
        "./variables/variables.index": b"index",
    }


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_the_same_folder_gives_the_same_bytes(
    model_dir: Path, tmp_path: Path, compression: str
) -> None:
    first = pack_archive(model_dir, tmp_path / "a", compression=compression).read_bytes()
    (model_dir / "saved_model.pb").touch()  # a newer mtime must not change the archive
    second = pack_archive(model_dir, tmp_path / "b", compression=compression).read_bytes()
    assert first == second


def test_a_failed_pack_leaves_nothing(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown compression"):
        pack_archive(model_dir, tmp_path / "m.tar", compression="brotli")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(FileNotFoundError, match="nothing to pack"):
        pack_archive(tmp_path / "absent", tmp_path / "m.tar")
