"""Several server processes against one PostgreSQL and one S3 store serve one hub: two
``tfhub serve`` processes (one of them with two workers) publish through one and read
through the other."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

import tfhub
from server.conftest import Models
from server.hubtest import BUCKET, serve_process
from server.models import X, expected
from server.pg import Postgres
from tfhub.server.admin import create_token
from tfhub.server.database import Database

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_two_servers_share_one_hub(
    postgres: Postgres, s3: str, models: Models, cache_dir: Path
) -> None:
    database = postgres.new_database().replace("tfhub@", "tfhub:sekrit-pw@")  # trust: ignored
    args = ["--no-examples", "--database", database, "--storage", f"s3://{BUCKET}/{uuid.uuid4()}"]
    with serve_process(*args) as a, serve_process(*args, "--workers", "2") as b:
        db = Database(database)
        token = create_token(db, "shared")[0]
        db.close()
        first = httpx.post(
            f"{a.url}/api/v1/models/shared/encoder/versions",
            files={"archive": ("m.tar.gz", models.archive("tf2_v1").read_bytes())},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert first.status_code == 201, first.text
        archive = "/shared/encoder/1?tf-hub-format=compressed"
        etags = {httpx.get(f"{server.url}{archive}").headers["etag"] for server in (a, b, b, b)}
        assert etags == {f'"{first.json()["archives"]["gzip"]["sha256"]}"'}
        again = httpx.put(
            f"{b.url}/api/v1/models/shared/encoder/versions/1",
            files={"archive": ("m.tar.gz", models.archive("tf2_v2").read_bytes())},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert again.status_code == 409
        second = httpx.post(
            f"{b.url}/api/v1/models/shared/encoder/versions",
            files={"archive": ("m.tar.gz", models.archive("tf2_v2").read_bytes())},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert second.json()["version"] == 2
        for server in (a, b):
            detail = httpx.get(f"{server.url}/api/v1/models/shared/encoder").json()
            assert [v["version"] for v in detail["versions"]] == [2, 1]
        import tensorflow as tf

        model = tfhub.load(f"{a.url}/shared/encoder")  # published through b
        np.testing.assert_allclose(model(tf.constant(X)).numpy(), expected(X, 2.0), rtol=1e-6)
    for server in (a, b):  # secrets never reach the log
        assert "sekrit-pw" not in server.output() and token not in server.output()
        assert "***@127.0.0.1" in server.output()
