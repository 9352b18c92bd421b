"""The JSON API on both back-ends: search (words over publisher, name, description, format,
tags; filters; pages), publishers, models, versions with their report, archives and
snippets, safe README HTML, and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from server.conftest import Models
from server.hubtest import Hub

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def catalog(hub: Hub, models: Models, keras3_export: Path) -> None:
    vision, text = hub.token("vision"), hub.token("text-lab")
    readme = (
        "# Legacy\n\nAn old <b>module</b>.\n\n<script>alert(1)</script>\n\n"
        "[docs](https://example.org/docs) ![logo](https://tracker.example/l.png)"
    )
    resnet = {"description": "Image features 50% faster", "tags": "image,features"}
    for archive, name, token, fields in (
        (models.archive("tf2_v1"), "vision/resnet", vision, resnet),
        (models.archive("tf2_v2"), "vision/resnet", vision, {}),
        (models.archive("tf1"), "vision/legacy", vision, {"readme": readme, "tags": "image"}),
        (models.archive("tf2_v1"), "text-lab/encoder", text,
         {"description": "Sentence encoder", "tags": "text"}),
        (keras3_export, "text-lab/classifier", text, {"description": "Keras 3 export"}),
    ):  # fmt: skip
        response = hub.publish(archive, name, token, **fields)
        assert response.status_code == 201, response.text


def api(hub: Hub, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{hub.url}/api/v1{path}", params=params, timeout=30)


def names(response: httpx.Response) -> list[str]:
    return sorted(f"{m['publisher']}/{m['name']}" for m in response.json()["models"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["text-lab/classifier", "text-lab/encoder", "vision/legacy", "vision/resnet"]),
        ({"q": "vision"}, ["vision/legacy", "vision/resnet"]),  # publisher
        ({"q": "ENCODER"}, ["text-lab/encoder"]),  # name, any case
        ({"q": "sentence"}, ["text-lab/encoder"]),  # description
        ({"q": "image features"}, ["vision/resnet"]),  # every word must match
        ({"q": "hub-module"}, ["vision/legacy"]),  # format
        ({"q": "keras-saved"}, ["text-lab/classifier"]),  # the format tfhub inspect names
        ({"q": "tf2-saved-model lab"}, ["text-lab/classifier", "text-lab/encoder"]),
        ({"q": "50%"}, ["vision/resnet"]),  # % is a character, not a wildcard
        ({"q": "%"}, ["vision/resnet"]),
        ({"q": "_"}, []),
        ({"publisher": "vision"}, ["vision/legacy", "vision/resnet"]),
        ({"format": "tf1"}, ["vision/legacy"]),
        # A Keras SavedModel is a TF2 SavedModel: found by tf2-saved-model and its prefixes
        (
            {"format": "tf2-saved-model"},
            ["text-lab/classifier", "text-lab/encoder", "vision/resnet"],
        ),
        ({"format": "tf2"}, ["text-lab/classifier", "text-lab/encoder", "vision/resnet"]),
        ({"format": "keras"}, ["text-lab/classifier"]),
        ({"format": "keras-saved-model"}, ["text-lab/classifier"]),
        ({"tag": "image"}, ["vision/legacy", "vision/resnet"]),
        ({"tag": "ima"}, []),  # tags match exactly
        ({"q": "nothing-like-this"}, []),
    ],
)
def test_search(hub: Hub, catalog: None, params: dict[str, str], expected: list[str]) -> None:
    found = api(hub, "/models", **params)
    assert found.status_code == 200
    assert names(found) == expected
    assert found.json()["total"] == len(expected)


def test_search_pages(hub: Hub, catalog: None) -> None:
    first, second = (api(hub, "/models", per_page=3, page=p).json() for p in (1, 2))
    assert first["total"] == second["total"] == 4
    assert len(first["models"]) == 3 and len(second["models"]) == 1
    seen = {m["name"] for m in first["models"] + second["models"]}
    assert seen == {"resnet", "legacy", "encoder", "classifier"}
    for bad in ({"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}):
        response = api(hub, "/models", **bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_publishers(hub: Hub, catalog: None) -> None:
    listed = {p["name"]: p["models"] for p in api(hub, "/publishers").json()["publishers"]}
    assert listed == {"text-lab": 2, "vision": 2}
    vision = api(hub, "/publishers/vision").json()
    assert [m["name"] for m in vision["models"]] == ["legacy", "resnet"]
    assert api(hub, "/publishers/nobody").status_code == 404


def test_model_and_versions(hub: Hub, catalog: None) -> None:
    model = api(hub, "/models/vision/resnet").json()
    assert model["latest_version"] == 2
    assert [v["version"] for v in model["versions"]] == [2, 1]
    assert model["description"] == "Image features 50% faster"  # kept from version 1
    assert model["tags"] == ["features", "image"]
    assert model["handle"] == f"{hub.url}/vision/resnet"
    latest = api(hub, "/models/vision/resnet/versions/latest").json()
    assert latest["version"] == 2 and latest["is_latest"]
    assert api(hub, "/models/vision/resnet/versions/1").json()["is_latest"] is False
    assert api(hub, "/models/vision/resnet/versions/3").status_code == 404


def test_version_listings_leave_readmes_and_reports_in_the_database(
    hub: Hub, catalog: None
) -> None:
    """The model page and the model API list every version: only the current version's
    README and report are read, never the others'."""
    for path in ("/vision/resnet", "/api/v1/models/vision/resnet"):
        with hub.sql() as statements:
            assert httpx.get(hub.url + path, timeout=30).status_code == 200
        listing = [s for s in statements if "FROM versions" in s and "ORDER BY" in s]
        assert listing, statements
        assert all("readme" not in s and "inspect_json" not in s for s in listing), listing


def test_version_detail(hub: Hub, catalog: None) -> None:
    detail = api(hub, "/models/vision/resnet/versions/1").json()
    gzip, zstd = detail["archives"]["gzip"], detail["archives"]["zstd"]
    archive = httpx.get(gzip["url"], timeout=30)
    assert archive.headers["etag"] == f'"{gzip["sha256"]}"'
    assert len(archive.content) == gzip["bytes"]
    smaller = httpx.get(zstd["url"], headers={"Accept": zstd["accept"]}, timeout=30)
    assert len(smaller.content) == zstd["bytes"]
    assert detail["unpacked_bytes"] > 0 and detail["files"] >= 3
    assert detail["inspection"]["format"] == "tf2-saved-model"
    assert detail["inspection"]["schema"] == "tfhub.inspect/1"  # tfhub inspect's report
    calls = str(detail["inspection"]["compatibility"])  # its calls name the hub URL
    assert f"{hub.url}/vision/resnet/1" in calls and "tfhub-publish" not in calls
    assert detail["inspection"]["path"] == ""  # not the server's scratch folder
    handle = f"'{hub.url}/vision/resnet/1'"
    snippets = detail["snippets"]
    assert f"tfhub.load({handle})" in snippets["tf2"] and f"hub.load({handle})" in snippets["tf2"]
    assert "outputs = model(inputs)" in snippets["tf2"]  # it has a __call__
    assert f"tfhub.KerasLayer({handle})" in snippets["keras3"]
    assert "disable_v2_behavior" in snippets["tf1_compat"]
    module = api(hub, "/models/vision/legacy/versions/1").json()
    assert module["format"] == "tf1-hub-module"
    assert "model.signatures['default'](**inputs)" in module["snippets"]["tf2"]
    assert "signature='default', as_dict=True" in module["snippets"]["tf1_compat"]
    assert f"hub.Module('{hub.url}/vision/legacy/1')" in module["snippets"]["tf1_compat"]


def test_a_keras3_export_has_its_format_and_snippets_that_fit(hub: Hub, catalog: None) -> None:
    """Keras 3 ``model.export()`` writes no ``__call__``: the snippets call its signature."""
    detail = api(hub, "/models/text-lab/classifier/versions/1").json()
    assert detail["format"] == detail["inspection"]["format"] == "keras-saved-model"
    model = api(hub, "/models/text-lab/classifier").json()
    assert model["format"] == model["versions"][0]["format"] == "keras-saved-model"
    handle = f"'{hub.url}/text-lab/classifier/1'"
    call = f"tfhub.KerasLayer({handle}, signature='serving_default', output_key='output_0')"
    assert detail["inspection"]["compatibility"]["load"]["keras3"]["call"] == f"layer = {call}"
    snippets = detail["snippets"]
    assert f"layer = {call}" in snippets["keras3"]
    assert "inputs = {'features': tf.zeros([1, 3], tf.float32)}" in snippets["keras3"]
    assert "Fine-tuning is not supported here: no __call__" in snippets["keras3"]
    assert "trainable=False" not in snippets["keras3"]
    for code in (snippets["tf2"], snippets["tf1_compat"]):
        assert "outputs = model.signatures['serving_default'](**inputs)" in code
        assert "model(inputs)" not in code


def test_readme_html_never_carries_the_publishers_html(hub: Hub, catalog: None) -> None:
    detail = api(hub, "/models/vision/legacy/versions/1").json()
    assert "<h1>Legacy</h1>" in detail["readme_html"]  # the pages' renderer, headings as written
    rel = 'rel="nofollow noopener noreferrer"'
    assert f'<a href="https://example.org/docs" {rel}>docs</a>' in detail["readme_html"]
    image = f'<a href="https://tracker.example/l.png" {rel}>image: logo</a>'
    assert image in detail["readme_html"] and "<img" not in detail["readme_html"]
    assert "<script>" not in detail["readme_html"] and "<b>" not in detail["readme_html"]
    assert "&lt;script&gt;" in detail["readme_html"]
    assert detail["description"] == "An old <b>module</b>."  # plain text, escaped by pages


def test_openapi_describes_the_api(hub: Hub) -> None:
    spec = api(hub, "/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/models", "/api/v1/models/{publisher}/{model}/versions/{version}",
                 "/api/v1/publishers/{publisher}", "/{publisher}/{model}/{version}"):  # fmt: skip
        assert path in paths, path
    publish = paths["/api/v1/models/{publisher}/{model}/versions"]["post"]
    assert "multipart/form-data" in publish["requestBody"]["content"]
    assert {"401", "409", "413", "422"} <= set(publish["responses"])
