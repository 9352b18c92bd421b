"""The JSON API on both back-ends: search (words over publisher, name, description, format,
tags; filters; pages), publishers, models, versions with their report, archives and
snippets, safe README HTML, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.conftest import Models
from server.hubtest import Hub

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def catalog(hub: Hub, models: Models) -> None:
    vision, text = hub.token("vision"), hub.token("text-lab")
    readme = "# Legacy\n\nAn old <b>module</b>.\n\n<script>alert(1)</script>"
    resnet = {"description": "Image features 50% faster", "tags": "image,features"}
    for archive, name, token, fields in (
        ("tf2_v1", "vision/resnet", vision, resnet),
        ("tf2_v2", "vision/resnet", vision, {}),
        ("tf1", "vision/legacy", vision, {"readme": readme, "tags": "image"}),
        ("tf2_v1", "text-lab/encoder", text, {"description": "Sentence encoder", "tags": "text"}),
    ):
        response = hub.publish(models.archive(archive), name, token, **fields)
        assert response.status_code == 201, response.text


def api(hub: Hub, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{hub.url}/api/v1{path}", params=params, timeout=30)


def names(response: httpx.Response) -> list[str]:
    return sorted(f"{m['publisher']}/{m['name']}" for m in response.json()["models"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["text-lab/encoder", "vision/legacy", "vision/resnet"]),
        ({"q": "vision"}, ["vision/legacy", "vision/resnet"]),  # publisher
        ({"q": "ENCODER"}, ["text-lab/encoder"]),  # name, any case
        ({"q": "sentence"}, ["text-lab/encoder"]),  # description
        ({"q": "image features"}, ["vision/resnet"]),  # every word must match
        ({"q": "hub-module"}, ["vision/legacy"]),  # format
        ({"q": "50%"}, ["vision/resnet"]),  # % is a character, not a wildcard
        ({"q": "%"}, ["vision/resnet"]),
        ({"q": "_"}, []),
        ({"publisher": "vision"}, ["vision/legacy", "vision/resnet"]),
        ({"format": "tf1"}, ["vision/legacy"]),
        ({"format": "tf2-saved-model"}, ["text-lab/encoder", "vision/resnet"]),
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
    first, second = (api(hub, "/models", per_page=2, page=p).json() for p in (1, 2))
    assert first["total"] == second["total"] == 3
    assert len(first["models"]) == 2 and len(second["models"]) == 1
    seen = {m["name"] for m in first["models"] + second["models"]}
    assert seen == {"resnet", "legacy", "encoder"}
    for bad in ({"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}):
        response = api(hub, "/models", **bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_publishers(hub: Hub, catalog: None) -> None:
    listed = {p["name"]: p["models"] for p in api(hub, "/publishers").json()["publishers"]}
    assert listed == {"text-lab": 1, "vision": 2}
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
    assert f'hub.load("{hub.url}/vision/resnet/1")' in detail["snippets"]["tf2"]
    assert "hub.KerasLayer(" in detail["snippets"]["keras3"]
    assert "disable_v2_behavior" in detail["snippets"]["tf1_compat"]
    module = api(hub, "/models/vision/legacy/versions/1").json()
    assert module["format"] == "tf1-hub-module"
    assert 'signature="default"' in module["snippets"]["keras3"]
    assert "hub.Module(" in module["snippets"]["tf1_compat"]


def test_readme_html_never_carries_the_publishers_html(hub: Hub, catalog: None) -> None:
    detail = api(hub, "/models/vision/legacy/versions/1").json()
    assert "<h1>Legacy</h1>" in detail["readme_html"]
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
