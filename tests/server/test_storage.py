"""One conformance suite for the hub's storage back-ends: a local folder and S3 (moto on
127.0.0.1); each back-end only supplies a fixture."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

import tfhub
from server.hubtest import BUCKET
from tfhub.server.storage import Storage, open_storage

DATA = random.Random(1).randbytes(3 * 1024 * 1024 + 123)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage(str(tmp_path / "store"))
    request.getfixturevalue("s3")
    return open_storage(f"s3://{BUCKET}/{uuid.uuid4().hex}")


@pytest.fixture
def blob(tmp_path: Path) -> str:
    path = tmp_path / "blob.bin"
    path.write_bytes(DATA)
    return str(path)


def read(store: Storage, key: str, start: int, length: int, chunk: int = 1 << 20) -> bytes:
    pieces = list(store.read(key, start, length, chunk))
    assert all(len(p) <= chunk for p in pieces)
    return b"".join(pieces)


def test_files_round_trip_whole_and_in_ranges(store: Storage, blob: str) -> None:
    store.put_file("objects/a/blob.bin", blob)
    assert store.size("objects/a/blob.bin") == len(DATA)
    assert read(store, "objects/a/blob.bin", 0, len(DATA)) == DATA
    for start, length in ((0, 1), (10, 100), (1 << 20, 5), (len(DATA) - 7, 7)):
        assert read(store, "objects/a/blob.bin", start, length, 4096) == DATA[start:][:length]
    store.put_file("objects/a/blob.bin", blob)  # replacing is fine
    assert store.size("objects/a/blob.bin") == len(DATA)


def test_trees_list_and_delete(store: Storage, tmp_path: Path) -> None:
    tree = tmp_path / "model"
    (tree / "variables").mkdir(parents=True)
    (tree / "saved_model.pb").write_bytes(b"pb")
    (tree / "variables" / "variables.index").write_bytes(b"index")
    assert store.put_tree("objects/p1/model", str(tree)) == 2
    assert store.put_tree("objects/p2/model", str(tree)) == 2
    assert store.list_prefixes("objects") == ["p1", "p2"]
    assert read(store, "objects/p1/model/variables/variables.index", 0, 5) == b"index"
    store.delete_prefix("objects/p1")
    store.delete_prefix("objects/never-existed")
    assert store.list_prefixes("objects") == ["p2"]
    with pytest.raises(FileNotFoundError):
        store.size("objects/p1/model/saved_model.pb")
    assert store.list_prefixes("nothing-here") == []


def test_locations_are_readable_in_place(store: Storage, blob: str) -> None:
    store.put_file("objects/loc/blob.bin", blob)
    location = store.location("objects/loc/blob.bin")
    if store.local_path("objects/loc/blob.bin") is not None:
        assert location.startswith("file:///")
        assert Path(location.removeprefix("file://")).read_bytes() == DATA
    else:
        import fsspec

        assert location.startswith("s3://")
        with fsspec.open(location, "rb") as f:
            assert f.read() == DATA


@pytest.mark.parametrize("key", ["../x", "/abs/x", "a/../b", "a//b", "", "a/./b", "a\\b"])
def test_keys_cannot_escape_the_store(store: Storage, blob: str, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        store.put_file(key, blob)
    with pytest.raises(ValueError, match="invalid storage key"):
        store.size(key)


def test_unknown_schemes_say_what_to_use() -> None:
    with pytest.raises(tfhub.ConfigError, match="s3://bucket/prefix"):
        open_storage("nosuchscheme://bucket/x")
