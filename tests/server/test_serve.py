"""``tfhub serve`` as users run it: in its own process, on the embedded defaults; the
example models published on first start (once); and a request path that never imports
TensorFlow."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

import tfhub
from server.conftest import Models
from server.hubtest import serve_process, tfhub_command
from support.compat import run_compat_script

pytestmark = pytest.mark.timeout(300)
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def test_serve_runs_a_hub_and_says_how_to_use_it(tmp_path: Path) -> None:
    with serve_process("--no-examples", "--data-dir", str(tmp_path / "data")) as served:
        assert httpx.get(f"{served.url}/api/v1/models").json()["total"] == 0
        spec = httpx.get(f"{served.url}/api/v1/openapi.json").json()
        assert "/api/v1/models/{publisher}/{model}/versions" in spec["paths"]
        assert httpx.get(f"{served.url}/").status_code == 200
        output = served.output()
        # The printed command puts the token in this hub's database (--data-dir repeated).
        line = next(x for x in output.splitlines() if "tfhub token create" in x)
        command = shlex.split(line.split("publish:", 1)[1].split("   then")[0])
        assert command[-2:] == ["--data-dir", str(tmp_path / "data")]
        args = [a.replace("NAME", "lab") for a in command[1:]]
        created = subprocess.run(
            tfhub_command(*args), capture_output=True, text=True, timeout=60, check=True
        )
        token = created.stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{served.url}/api/v1/publishers/lab", headers=headers).status_code == 200
    assert f"tfhub hub running at {served.url}" in output
    assert f"pages:    {served.url}/\n" in output
    assert f"tfhub publish MODEL_DIR NAME/MODEL --server {served.url} --token TOKEN" in output
    assert 'hub.load("' in output
    assert (tmp_path / "data" / "hub.db").is_file()
    assert (tmp_path / "data" / "storage").is_dir()


def test_the_request_path_never_imports_tensorflow(models: Models, tmp_path: Path) -> None:
    out = run_compat_script(
        SCRIPTS, "tf_free_server", tmp_path / "data", models.archive("tf2_v1"), timeout=120
    )
    assert out["statuses"] == [201, 200, 303, 200, 200, 200, 200]
    assert out["heavy"] == []


@pytest.mark.slow
def test_first_start_publishes_the_examples_once(tmp_path: Path) -> None:
    import tensorflow as tf

    data = str(tmp_path / "data")
    with serve_process("--data-dir", data, timeout=240) as served:
        found = httpx.get(f"{served.url}/api/v1/models", params={"publisher": "examples"}).json()
        formats = {m["name"]: m["format"] for m in found["models"]}
        assert formats == {"tiny-encoder": "tf2-saved-model", "tiny-hub-module": "tf1-hub-module"}
        handle = f"{served.url}/examples/tiny-encoder/1"
        assert f'hub.load("{handle}")' in served.output()
        x = tf.constant([[1.0, 2.0, 3.0]])
        np.testing.assert_allclose(tfhub.load(handle)(x).numpy(), [[4.1, 4.3]], rtol=1e-6)
        module = tfhub.load(f"{served.url}/examples/tiny-hub-module")
        got = module.signatures["default"](x=x)["default"].numpy()
        np.testing.assert_allclose(got, [[4.1, 4.3]], rtol=1e-6)
        detail = httpx.get(f"{served.url}/api/v1/models/examples/tiny-hub-module/versions/1")
        assert "train" in str(detail.json()["inspection"])  # the second graph variant
    assert "Building the example models" in served.output()
    with serve_process("--data-dir", data) as again:
        found = httpx.get(f"{again.url}/api/v1/models", params={"publisher": "examples"}).json()
        assert [m["latest_version"] for m in found["models"]] == [1, 1]
    assert "Building the example models" not in again.output()
