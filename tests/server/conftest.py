"""Fixtures of the hub server tests: real models (built once), PostgreSQL and S3 (moto)
started once, and a hub served by uvicorn on 127.0.0.1 for each test module and back-end:
``sqlite-local`` (the embedded defaults) and ``pg-s3`` (PostgreSQL + object storage)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.hubtest import BUCKET, Hub, ServerThread, build_in_child
from server.pg import Postgres, running_postgres
from support.object_stores import moto_s3
from tfhub.server.context import HubContext
from tfhub.server.settings import ServerSettings

BACKENDS = ["sqlite-local", "pg-s3"]


@dataclass(frozen=True)
class Models:
    """Model folders and their .tar.gz archives."""

    root: Path
    tf2_v1: Path  # scale 1
    tf2_v2: Path  # scale 2
    tf1: Path  # the TF1 Hub fixture module (tests/tf1/hub_fixture.py)

    def archive(self, name: str) -> Path:
        return self.root / f"{name}.tar.gz"


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    from server.models import save_scaled_model
    from tf1.hub_fixture import export_fixture
    from tfhub.core.pack import pack_archive

    root = tmp_path_factory.mktemp("hub-models")
    found = Models(
        root,
        save_scaled_model(root / "tf2_v1", 1.0),
        save_scaled_model(root / "tf2_v2", 2.0),
        export_fixture(root / "tf1", root),
    )
    for name in ("tf2_v1", "tf2_v2", "tf1"):
        pack_archive(root / name, found.archive(name))
    return found


KERAS3_EXPORT = textwrap.dedent(
    """
    import sys
    import keras

    inputs = keras.Input(shape=(3,), name="features")
    dense = keras.layers.Dense(
        2, name="dense", kernel_initializer="ones",
        bias_initializer=keras.initializers.Constant(0.5),
    )
    keras.Model(inputs, dense(inputs)).export(sys.argv[1], verbose=False)
    """
)


@pytest.fixture(scope="session")
def keras3_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .tar.gz of a Keras 3 ``model.export()`` SavedModel: signatures ``serve`` and
    ``serving_default`` (``features`` float32 [?, 3] -> ``output_0`` = sum(x) + 0.5, twice),
    no ``__call__``. Built in a child process (Keras is imported there only)."""
    from tfhub.core.pack import pack_archive

    path = build_in_child(KERAS3_EXPORT, tmp_path_factory.mktemp("keras3") / "export")
    return Path(pack_archive(path, path.with_suffix(".tar.gz")))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def s3() -> Iterator[str]:
    with moto_s3(BUCKET) as endpoint:
        yield endpoint


def make_settings(backend: str, request: pytest.FixtureRequest, tmp: Path) -> ServerSettings:
    """Fresh settings (empty database and storage) for ``backend``."""
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite-local":
        return ServerSettings.from_env({}, data_dir=str(tmp), work_dir=str(work))
    pg: Postgres = request.getfixturevalue("postgres")
    request.getfixturevalue("s3")
    return ServerSettings.from_env(
        {},
        data_dir=str(tmp),
        work_dir=str(work),
        database_url=pg.new_database(),
        storage_url=f"s3://{BUCKET}/{uuid.uuid4().hex}",
    )


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def hub(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hub]:
    """A migrated, empty hub of ``backend``, served on 127.0.0.1."""
    settings = make_settings(backend, request, tmp_path_factory.mktemp(f"hub-{backend}"))
    context = HubContext.open(settings)
    context.db.migrate()
    try:
        with ServerThread(context) as server:
            yield Hub(context, server.url)
    finally:
        context.close()
