"""Both clients load models from a running hub by URL handle, on both back-ends: tfhub
(``tfhub.load``, ``KerasLayer``; zstd archives; in place with UNCOMPRESSED; a private
model with its token) and the original ``tensorflow_hub`` 0.16.1 (in its own process),
latest and pinned versions, TF2 SavedModels and TF1 Hub modules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import tfhub
from server.conftest import Models
from server.hubtest import Hub
from server.models import X, expected
from support.compat import run_compat_script
from tf1.hub_fixture import dense_reference

pytestmark = pytest.mark.timeout(240)
SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture(scope="module")
def zoo(hub: Hub, models: Models) -> dict[str, Any]:
    token = hub.token("zoo")
    for name, path, version in (
        ("tf2_v1", "zoo/encoder", 1),
        ("tf2_v2", "zoo/encoder", 2),
        ("tf1", "zoo/module", 1),
    ):
        response = hub.publish(models.archive(name), path, token, version=version)
        assert response.status_code == 201, response.text
    vault = hub.token("vault", private=True)
    assert hub.publish(models.archive("tf2_v1"), "vault/encoder", vault).status_code == 201
    return {"vault": vault}


def test_tfhub_loads_latest_and_pinned_models_of_both_formats(hub: Hub, zoo: Any) -> None:
    import tensorflow as tf

    latest = tfhub.load(f"{hub.url}/zoo/encoder")
    pinned = tfhub.load(f"{hub.url}/zoo/encoder/1")
    np.testing.assert_allclose(latest(tf.constant(X)).numpy(), expected(X, 2.0), rtol=1e-6)
    np.testing.assert_allclose(pinned(tf.constant(X)).numpy(), expected(X, 1.0), rtol=1e-6)
    for handle in (f"{hub.url}/zoo/module", f"{hub.url}/zoo/module/1"):
        module = tfhub.load(handle)
        got = module.signatures["default"](x=tf.constant(X))["default"].numpy()
        np.testing.assert_allclose(got, dense_reference(X), rtol=1e-6)


def test_tfhub_keras_layer_from_the_hub(hub: Hub, zoo: Any) -> None:
    import keras

    layer = tfhub.KerasLayer(f"{hub.url}/zoo/module/1", signature="default", output_key="default")
    model = keras.Sequential([keras.Input([3]), layer])
    np.testing.assert_allclose(model.predict(X, verbose=0), dense_reference(X), rtol=1e-6)


def test_tfhub_gets_the_zstd_archive_and_verifies_it(hub: Hub, zoo: Any, cache_dir: Path) -> None:
    path = tfhub.resolve(f"{hub.url}/zoo/encoder/2")
    detail = httpx.get(f"{hub.url}/api/v1/models/zoo/encoder/versions/2").json()
    manifest = json.loads((Path(path).parent / "manifest.json").read_text())
    assert manifest["archive_sha256"] == detail["archives"]["zstd"]["sha256"]
    assert manifest["archive_bytes"] == detail["archives"]["zstd"]["bytes"]


def test_tfhub_reads_in_place_with_uncompressed(
    hub: Hub, zoo: Any, backend: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "UNCOMPRESSED")
    location = tfhub.resolve(f"{hub.url}/zoo/encoder/1")
    assert location.startswith("s3://" if backend == "pg-s3" else hub.hub.storage.url)
    assert not (cache_dir / "models").exists()  # nothing was downloaded
    if backend == "sqlite-local":  # TensorFlow itself has no S3 file system any more
        model = tfhub.load(f"{hub.url}/zoo/encoder/1")
        np.testing.assert_allclose(model(tf.constant(X)).numpy(), expected(X, 1.0), rtol=1e-6)


def test_tfhub_loads_a_private_model_with_its_token(
    hub: Hub, zoo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = f"{hub.url}/vault/encoder/1"
    with pytest.raises(tfhub.ModelNotFoundError):
        tfhub.resolve(handle)
    monkeypatch.setenv("TFHUB_TOKEN", zoo["vault"])
    monkeypatch.setenv("TFHUB_TOKEN_HOST", hub.url.removeprefix("http://"))
    assert os.path.isfile(os.path.join(tfhub.resolve(handle), "saved_model.pb"))


@pytest.mark.slow
def test_the_original_client_loads_latest_and_pinned_models(
    hub: Hub, zoo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "original-cache"))
    out = run_compat_script(SCRIPTS, "original_client", hub.url, timeout=180)
    np.testing.assert_allclose(out["zoo/encoder"], expected(X, 2.0), rtol=1e-6)
    np.testing.assert_allclose(out["zoo/encoder/1"], expected(X, 1.0), rtol=1e-6)
    for key in ("zoo/module", "zoo/module/1", "keras_layer"):
        np.testing.assert_allclose(out[key], dense_reference(X), rtol=1e-6)
