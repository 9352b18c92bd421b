"""The copy-paste code of a published model, from the JSON API and the model page (one
module writes both): it follows the model's inspection report, so a Keras 3
``model.export()`` (no ``__call__``) is called through its signature and output key, and
the snippets run as they are, against the hub, in TF2, Keras 3 and TF1 compatibility mode
(each in a fresh interpreter, as a user would paste them)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from server.conftest import Models
from server.hubtest import Hub
from support.compat import run_compat_script

pytestmark = pytest.mark.timeout(300)
SCRIPTS = Path(__file__).resolve().parent / "scripts"
MODELS = ("lab/classifier", "lab/encoder", "lab/words")
PAGE_IDS = {"tf2": "tf2", "tf1_compat": "tf1", "keras3": "keras3"}


@pytest.fixture(scope="module")
def backend() -> str:
    """Snippets come from the stored report: one back-end is enough here."""
    return "sqlite-local"


@pytest.fixture(scope="module")
def published(hub: Hub, models: Models, keras3_export: Path) -> dict[str, dict[str, str]]:
    """The API's snippets of a Keras 3 export, a TF2 SavedModel with ``__call__`` and a TF1
    Hub module, by model."""
    token = hub.token("lab")
    archives = (keras3_export, models.archive("tf2_v1"), models.archive("tf1"))
    found = {}
    for name, archive in zip(MODELS, archives, strict=True):
        response = hub.publish(archive, name, token)
        assert response.status_code == 201, response.text
        found[name] = response.json()["snippets"]
    return found


def page_snippets(hub: Hub, name: str) -> dict[str, str]:
    """The code blocks of the model's page, as their text (what the copy button copies)."""
    page = httpx.get(f"{hub.url}/{name}/1", timeout=30).text
    found = {}
    for key, element in PAGE_IDS.items():
        match = re.search(rf'<pre id="snippet-{element}"[^>]*><code>(.*?)</code></pre>', page, re.S)
        assert match is not None, f"no snippet-{element} on the page of {name}"
        found[key] = html.unescape(match.group(1))
    return found


def test_pages_and_the_api_propose_the_same_code(
    hub: Hub, published: dict[str, dict[str, str]]
) -> None:
    for name in MODELS:
        assert page_snippets(hub, name) == published[name], name


def test_the_keras3_export_page_shows_its_format(
    hub: Hub, published: dict[str, dict[str, str]]
) -> None:
    page = httpx.get(f"{hub.url}/lab/classifier", timeout=30).text
    assert '<span class="badge fmt-keras-saved-model">Keras SavedModel</span>' in page
    home = httpx.get(f"{hub.url}/", params={"format": "tf2-saved-model"}, timeout=30).text
    assert "lab/classifier" in home and "lab/encoder" in home and "lab/words" not in home
    keras = httpx.get(f"{hub.url}/", params={"format": "keras-saved-model"}, timeout=30).text
    assert "lab/classifier" in keras and "lab/encoder" not in keras
    assert '<option value="keras-saved-model" selected>Keras SavedModel</option>' in keras


def run(tmp_path: Path, *snippets: tuple[str, str]) -> list[dict[str, Any]]:
    """Runs the snippets (name, code) in one fresh interpreter."""
    files = []
    for name, code in snippets:
        files.append(tmp_path / f"{name.replace('/', '-')}.py")
        files[-1].write_text(code)
    results: list[dict[str, Any]] = run_compat_script(SCRIPTS, "run_snippets", *files, timeout=240)[
        "results"
    ]
    return results


@pytest.mark.slow
def test_the_snippets_run_as_they_are(
    hub: Hub, published: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    keras, encoder, words = (published[name] for name in MODELS)
    results = run(
        tmp_path,
        ("keras-tf2", keras["tf2"]),  # tfhub.load + the serving_default signature
        ("keras-keras3", keras["keras3"]),  # KerasLayer(signature=, output_key=)
        ("encoder-tf2", encoder["tf2"]),  # __call__
        ("encoder-keras3", encoder["keras3"]),
        ("words-tf2", words["tf2"]),
        ("words-keras3", words["keras3"]),
    )
    outputs = [r["outputs"] for r in results]
    assert outputs[0] == {"output_0": [[0.5, 0.5]]}  # zeros @ ones + 0.5
    assert outputs[1] == [[0.5, 0.5]]
    for encoded in outputs[2:4]:  # zeros @ kernel + bias
        np.testing.assert_allclose(encoded, [[0.1, -0.2]], rtol=1e-6)
    assert set(outputs[4]) == {"default", "hidden"}
    assert len(outputs[5]) == 1 and len(outputs[5][0]) == 2
    (tf1,) = run(tmp_path, ("keras-tf1", keras["tf1_compat"]))  # TF1 mode: its own process
    assert tf1["printed"].startswith("{'output_0': array([[0.5, 0.5]]"), tf1
    (tf1,) = run(tmp_path, ("words-tf1", words["tf1_compat"]))
    assert "'default': array([[" in tf1["printed"], tf1
