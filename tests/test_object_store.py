"""One conformance suite for object storage, run against real S3 and GCS protocol servers
on 127.0.0.1 (moto and gcp-storage-emulator); each back-end only supplies a fixture."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import tfhub
from support.archives import model_archive
from support.object_stores import environ, moto_s3

Upload = Callable[[str, bytes], None]


@dataclass
class Store:
    scheme: str
    bucket: str
    upload: Upload

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


@pytest.fixture(scope="module")
def s3_store() -> Iterator[Store]:
    with moto_s3("models-bucket"):
        import boto3

        client = boto3.client("s3")
        yield Store(
            "s3",
            "models-bucket",
            lambda key, data: client.put_object(Bucket="models-bucket", Key=key, Body=data),
        )


@pytest.fixture(scope="module")
def gs_store() -> Iterator[Store]:
    from gcp_storage_emulator.server import create_server

    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket="models-bucket")
    server.start()
    port = server._api._httpd.server_address[1]
    try:
        with environ({"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}):
            import fsspec

            fs = fsspec.filesystem("gs")

            def upload(key: str, data: bytes) -> None:
                with fs.open(f"models-bucket/{key}", "wb") as f:
                    f.write(data)

            yield Store("gs", "models-bucket", upload)
    finally:
        server.stop()


@pytest.fixture(params=["s3", "gs"])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def _upload_model_dir(store: Store, prefix: str) -> None:
    store.upload(f"{prefix}/saved_model.pb", b"\x08\x01pb")
    store.upload(f"{prefix}/variables/variables.index", b"index")


def test_directory_is_read_in_place(store: Store, cache_dir) -> None:
    _upload_model_dir(store, "dirs/m1")
    assert tfhub.resolve(store.url("dirs/m1/")) == store.url("dirs/m1")
    assert not (cache_dir / "models").exists()


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_archive_object_is_installed_through_the_cache(
    store: Store, compression: str, cache_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"archives/m.tar.{'gz' if compression == 'gz' else 'zst'}"
    store.upload(key, model_archive(compression))
    path = tfhub.resolve(store.url(key))
    assert path.startswith(str(cache_dir))
    assert sorted(os.listdir(path)) == ["assets", "saved_model.pb", "variables"]
    monkeypatch.setenv("TFHUB_OFFLINE", "1")  # the second call needs no storage at all
    assert tfhub.resolve(store.url(key)) == path


def test_missing_object_is_model_not_found(store: Store) -> None:
    with pytest.raises(tfhub.ModelNotFoundError, match="No model at"):
        tfhub.resolve(store.url("nothing/here"))


def test_offline_refuses_storage_that_is_not_cached(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFHUB_OFFLINE", "1")
    with pytest.raises(tfhub.OfflineError, match="TFHUB_OFFLINE"):
        tfhub.resolve(store.url("dirs/m1"))


@pytest.mark.parametrize(
    ("scheme", "package", "extra"), [("s3", "s3fs", "s3"), ("gs", "gcsfs", "gcs")]
)
def test_missing_extra_names_the_package(
    scheme: str, package: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    for name in [m for m in sys.modules if m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(registry._registry, scheme, raising=False)
    with pytest.raises(tfhub.MissingDependencyError) as info:
        tfhub.resolve(f"{scheme}://bucket/model")
    assert f"pip install 'tfhub[{extra}]'" in str(info.value)
    assert isinstance(info.value, ImportError)
