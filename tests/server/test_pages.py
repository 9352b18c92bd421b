"""The hub's HTML pages over real HTTP (uvicorn on 127.0.0.1, SQLite + local storage): search,
publisher and model pages built from real published models (a TF2 SavedModel in two
versions, a TF1 Hub module, a model with risky ops and a tensorflow-text op), hostile
READMEs, private publishers (token header and login cookie), static files, security headers,
and the page data shipped inside the package."""

from __future__ import annotations

import dataclasses
import hashlib
import html.parser
import importlib.resources
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.conftest import Models
from server.hubtest import Hub, ServerThread, build_in_child
from tfhub.core.progress import format_size
from tfhub.server.context import HubContext

pytestmark = pytest.mark.timeout(240)

HOSTILE_README = """# Encoder

Maps *numbers* to features. <script>alert("readme")</script>
<img src=x onerror="alert(1)">

[docs](https://example.org/docs) [bad](javascript:alert(2)) [data](data:text/html,<b>x</b>)

![tracker](https://tracker.example/pixel.png)
"""


@pytest.fixture(scope="module")
def backend() -> str:
    """The pages read the database through the catalog: one back-end is enough here."""
    return "sqlite-local"


# -- a small DOM, enough to ask about elements -------------------------------------------------
_VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr"}
_INLINE = {"a", "span", "code", "em", "strong", "b", "i", "time", "label", "abbr"}


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        """The text inside, whitespace collapsed; block elements are set apart by a space."""
        parts = [
            c if isinstance(c, str) else c.text() if c.tag in _INLINE else f" {c.text()} "
            for c in self.children
        ]
        return " ".join("".join(parts).split())

    def all(self, tag: str | None = None, **attrs: str) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    value in child.attrs.get(name.rstrip("_"), "").split()
                    if name == "class_"
                    else child.attrs.get(name) == value
                    for name, value in attrs.items()
                ):
                    yield child
                yield from child.all(tag, **attrs)

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = list(self.all(tag, **attrs))
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]


class _Builder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(response: httpx.Response) -> Node:
    assert response.headers["content-type"].startswith("text/html"), response.text[:300]
    builder = _Builder()
    builder.feed(response.text)
    return builder.root


# -- models -------------------------------------------------------------------------------------
RISKY_SCRIPT = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    import tensorflow_text as text

    class Risky(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, words):
            return text.case_fold_utf8(words)

        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def dump(self, contents):
            tf.io.write_file("/tmp/tfhub-risky-model-output.txt", contents)
            return contents

    tf.saved_model.save(Risky(), sys.argv[1])
    """
)


def build_risky_model(path: Path) -> Path:
    """A SavedModel with a ``WriteFile`` op and a tensorflow-text op (built in a child
    process, so tensorflow-text's ops are not registered in this one)."""
    return build_in_child(RISKY_SCRIPT, path)


@dataclasses.dataclass(frozen=True)
class Published:
    acme: str  # token of the public publisher
    vault: str  # token of the private publisher


@pytest.fixture(scope="module")
def published(hub: Hub, models: Models, tmp_path_factory: pytest.TempPathFactory) -> Published:
    from tfhub.core.pack import pack_archive

    acme, vault = hub.token("acme"), hub.token("vault", private=True)
    steps = [
        (models.archive("tf2_v1"), "acme/encoder", acme, {"readme": HOSTILE_README,
         "description": "Turns numbers into features.", "tags": "text,encoder"}),
        (models.archive("tf2_v2"), "acme/encoder", acme, {"readme": "# Encoder v2\n\nBetter."}),
        (models.archive("tf1"), "acme/legacy-words", acme, {"tags": "words",
         "description": "Bag of words, the old way."}),
        (models.archive("tf2_v1"), "vault/secret-encoder", vault, {"description": "Hidden."}),
    ]  # fmt: skip
    risky = build_risky_model(tmp_path_factory.mktemp("risky") / "model")
    steps.append((pack_archive(risky, risky.with_suffix(".tar.gz")), "acme/risky", acme, {}))
    for archive, name, token, fields in steps:
        response = hub.publish(Path(archive), name, token, **fields)
        assert response.status_code == 201, response.text
    return Published(acme, vault)


def get(hub: Hub, path: str, **kwargs: Any) -> httpx.Response:
    with hub.client() as client:
        return client.get(path, **kwargs)


# -- search and lists ---------------------------------------------------------------------------
def titles(page: Node) -> list[str]:
    """The models listed, sorted (models published in the same second have no order)."""
    return sorted(h.text() for h in page.all("h3", class_="card-title"))


def test_home_lists_models_and_publishers(hub: Hub, published: Published) -> None:
    response = get(hub, "/")
    assert response.status_code == 200
    page = dom(response)
    assert page.one("title").text() == "Models · tfhub"
    assert titles(page) == ["acme/encoder", "acme/legacy-words", "acme/risky"]
    publishers = page.one("ul", class_="publishers").text()
    assert "acme 3 models" in publishers and "vault" not in publishers
    assert page.one("label", **{"for": "q"}).text().startswith("Search by name")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "legacy"}, ["acme/legacy-words"]),  # name
        ({"q": "acme"}, ["acme/encoder", "acme/legacy-words", "acme/risky"]),  # publisher
        ({"q": "NUMBERS features"}, ["acme/encoder"]),  # description, every word
        ({"q": "words"}, ["acme/legacy-words"]),  # name, description and tag
        ({"q": "hub-module"}, ["acme/legacy-words"]),  # format
        ({"format": "tf1-hub-module"}, ["acme/legacy-words"]),
        ({"format": "tf2-saved-model", "q": "encoder"}, ["acme/encoder"]),
        ({"tag": "text"}, ["acme/encoder"]),
        ({"q": "secret"}, []),  # private: not found without its token
        ({"q": "nothing-like-this"}, []),
    ],
)
def test_search(hub: Hub, published: Published, query: dict[str, str], expected: list[str]) -> None:
    page = dom(get(hub, "/", params=query))
    assert titles(page) == expected
    count = page.one("h2", id="results-heading").text()
    assert count.startswith("No models" if not expected else f"{len(expected)} model")
    if "format" in query:
        selected = [
            o for o in page.one("select", id="format").all("option") if "selected" in o.attrs
        ]
        assert [o.attrs["value"] for o in selected] == [query["format"]]


def test_search_text_is_escaped(hub: Hub, published: Published) -> None:
    response = get(hub, "/", params={"q": '"><script>alert(1)</script>'})
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert dom(response).one("input", id="q").attrs["value"] == '"><script>alert(1)</script>'


def test_publisher_page(hub: Hub, published: Published) -> None:
    page = dom(get(hub, "/acme"))
    assert page.one("h1").text() == "acme"
    assert titles(page) == ["acme/encoder", "acme/legacy-words", "acme/risky"]
    card = next(c for c in page.all("li", class_="card") if "acme/encoder" in c.text())
    assert "TF2 SavedModel" in card.text() and "version 2" in card.text()
    assert [a.text() for a in card.one("ul", class_="tags").all("a")] == ["encoder", "text"]


# -- model pages --------------------------------------------------------------------------------
def test_model_page_without_version_is_the_latest(hub: Hub, published: Published) -> None:
    response = get(hub, "/acme/encoder")
    assert response.status_code == 200
    page = dom(response)
    assert page.one("title").text() == "acme/encoder · tfhub"
    badge = page.one("header", class_="model-head").one("span", class_="badge")
    assert badge.text() == "TF2 SavedModel"
    assert "Version 2 (latest)" in page.one("p", class_="meta").text()
    assert page.one("input", id="handle-url").attrs["value"] == f"{hub.url}/acme/encoder"
    readme = page.one("div", class_="readme")
    assert readme.one("h3").text() == "Encoder v2"
    versions = page.one("ol", class_="versions")
    links = [(a.text(), a.attrs["href"]) for a in versions.all("a")]
    assert links == [("Version 2", "/acme/encoder/2"), ("Version 1", "/acme/encoder/1")]


def test_model_page_shows_signatures_sizes_and_compatibility(
    hub: Hub, published: Published
) -> None:
    page = dom(get(hub, "/acme/encoder/1"))
    assert "A newer version exists: version 2" in page.one("p", class_="notice").text()
    signature = page.one("table", class_="signature")
    assert "serving_default" in signature.one("caption").text()
    rows = [[c.text() for c in tr.children if isinstance(c, Node)] for tr in signature.all("tr")]
    assert ["input", "x", "float32", "[?, 3]", "dense"] in rows
    assert ["output", "output", "float32", "[?, 2]", "dense"] in rows
    with hub.client() as client:
        detail = client.get("/api/v1/models/acme/encoder/versions/1").json()
    facts = page.one("dl", class_="facts").text()
    assert f"in {detail['files']} files" in facts
    variables = detail["inspection"]["variables"]
    assert variables["trainable"] == 2  # kernel and bias (and the checkpoint's save_counter)
    assert f"Variables {variables['count']} (2 trainable)" in facts
    gzip_size = f"{format_size(detail['archives']['gzip']['bytes'])} .tar.gz"
    assert gzip_size in facts and ".tar.zst" in facts
    compat = page.one("table", class_="compat")
    headers = [th.text() for th in compat.one("thead").all("th")]
    assert headers == ["Operation", "TF1 compatibility mode", "TF2 (tf_keras)", "TF2 with Keras 3"]
    operations = [th.text() for th in compat.one("tbody").all("th", scope="row")]
    assert operations == ["Load / inference", "Fine-tune", "Create"]
    keras3_fine_tune = list(compat.one("tbody").all("tr"))[1].children
    cells = [c for c in keras3_fine_tune if isinstance(c, Node) and c.tag == "td"]
    assert cells[2].one("span", class_="verdict").text() == "✓ Works"
    assert f"tfhub.KerasLayer('{hub.url}/acme/encoder/1', trainable=True)" in cells[2].text()


def test_model_page_snippets_name_the_page_url(hub: Hub, published: Published) -> None:
    page = dom(get(hub, "/acme/encoder/2"))
    handle = f"'{hub.url}/acme/encoder/2'"
    tf2 = page.one("pre", id="snippet-tf2").text()
    assert f"tfhub.load({handle})" in tf2 and f"hub.load({handle})" in tf2
    assert "import tensorflow_hub as hub" in tf2
    assert f"tfhub.load({handle})" in page.one("pre", id="snippet-tf1").text()
    assert f"tfhub.KerasLayer({handle}" in page.one("pre", id="snippet-keras3").text()
    buttons = list(page.all("button", class_="copy"))
    assert {b.attrs["data-copy"] for b in buttons} == {
        "handle-url", "snippet-tf2", "snippet-tf1", "snippet-keras3"
    }  # fmt: skip


def test_tf1_hub_module_page(hub: Hub, published: Published) -> None:
    page = dom(get(hub, "/acme/legacy-words/1"))
    badge = page.one("header", class_="model-head").one("span", class_="badge")
    assert badge.text() == "TF1 Hub module"
    variants = [h.text() for h in page.one("section", id="signatures").all("h3")]
    assert variants[:2] == ["Graph variant no tags (inference)", "Graph variant {train}"]
    tables = {t.one("caption").one("code").text(): t for t in page.all("table", class_="signature")}
    assert set(tables) == {"default", "words"}
    words = [
        [c.text() for c in tr.children if isinstance(c, Node)] for tr in tables["words"].all("tr")
    ]
    assert ["input", "words", "string", "[?, ?]", "sparse"] in words
    assert "Same signatures as the graph variant no tags (inference)." in page.text()
    tf1 = page.one("pre", id="snippet-tf1").text()
    assert f"hub.Module('{hub.url}/acme/legacy-words/1')" in tf1
    assert "signature='default'" in tf1
    compat = page.one("table", class_="compat").text()
    assert (
        f"tfhub.Module('{hub.url}/acme/legacy-words/1', trainable=True, tags={{'train'}})" in compat
    )
    hints = [p.text() for p in page.one("section", id="signatures").all("p", class_="hint")]
    assert hints == [
        "0 update ops, 2 regularization losses",
        "1 update ops, 2 regularization losses",
    ]


def test_risky_ops_and_op_libraries(hub: Hub, published: Published) -> None:
    page = dom(get(hub, "/acme/risky"))
    findings = page.one("table", class_="findings")
    rows = [[c.text() for c in tr.children if isinstance(c, Node)] for tr in findings.all("tr")]
    write = [r for r in rows if r[1] == "WriteFile"]
    assert len(write) == 1 and write[0][0] == "high", rows
    assert "dump" in write[0][2]  # the location names the function
    libraries = page.one("ul", class_="oplibs").text()
    assert "pip install tensorflow-text" in libraries and "CaseFoldUTF8" in libraries
    clean = dom(get(hub, "/acme/encoder"))
    assert clean.one("section", id="risky-ops").text().startswith("Risky ops None found.")
    assert "Core TensorFlow only." in clean.text()


def test_readme_is_rendered_without_html_or_scripts(hub: Hub, published: Published) -> None:
    response = get(hub, "/acme/encoder/1")
    page = dom(response)
    readme = page.one("div", class_="readme")
    assert readme.one("h3").text() == "Encoder"
    assert readme.one("em").text() == "numbers"
    assert '<script>alert("readme")</script>' in readme.text()  # shown as text
    assert list(readme.all("script")) == [] and list(readme.all("img")) == []
    links = {a.text(): a.attrs for a in readme.all("a")}
    assert links["docs"] == {
        "href": "https://example.org/docs",
        "rel": "nofollow noopener noreferrer",
    }
    assert links["image: tracker"]["href"] == "https://tracker.example/pixel.png"
    assert set(links) == {"docs", "image: tracker"}  # javascript: and data: are not links
    assert '<img src=x onerror="alert(1)">' in readme.text()  # shown as text
    assert not any(a.startswith("on") for node in page.all() for a in node.attrs)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The READMEs Markdown is rendered for from now on (the server runs in this process)."""
    from tfhub.server import markdown

    seen: list[str] = []
    real_render = markdown.render

    def counting_render(text: str, *, heading_shift: int = 0) -> str:
        seen.append(text)
        return real_render(text, heading_shift=heading_shift)

    monkeypatch.setattr(markdown, "render", counting_render)
    return seen


def test_readmes_are_rendered_once_for_the_page_and_the_api(
    hub: Hub, published: Published, renders: list[str]
) -> None:
    with hub.client() as client:
        for path in ("/acme/encoder/1", "/api/v1/models/acme/encoder/versions/1"):
            assert client.get(path).status_code == 200
            renders.clear()
            assert client.get(path).status_code == 200
            assert renders == [], path


def test_readme_cache_keeps_large_readmes_too(renders: list[str]) -> None:
    """A README above the small-cache size (up to the upload limit) is rendered once, not
    per request; a few of them fit beside the small ones."""
    from tfhub.server import markdown

    large = "# Big\n\n" + "word " * (markdown.SMALL_README_CHARS // 5 + 10)
    assert len(large) > markdown.SMALL_README_CHARS
    first = markdown.readme_html(large, heading_shift=2)
    assert markdown.readme_html(large, heading_shift=2) is first
    assert renders == [large]
    assert first.startswith("<h3>Big</h3>")


def test_pages_have_no_inline_code_and_send_security_headers(
    hub: Hub, published: Published
) -> None:
    for path in ("/", "/acme", "/acme/encoder", "/acme/legacy-words/1", "/login", "/nope"):
        response = get(hub, path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "http" not in csp and "unsafe" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        page = dom(response)
        assert page.one("title").text().endswith("· tfhub")
        scripts = list(page.all("script"))
        assert [s.attrs["src"].split("?")[0] for s in scripts] == ["/static/hub.js"]
        assert all(not s.children for s in scripts)
        for node in page.all():
            assert not any(a.startswith("on") or a == "style" for a in node.attrs), node
        assert list(page.all("style")) == []


# -- errors and private publishers --------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/nobody", "/acme/missing", "/acme/encoder/9", "/vault", "/vault/secret-encoder",
             "/Not_A_Name"]
)  # fmt: skip
def test_unknown_and_private_names_are_html_404(hub: Hub, published: Published, path: str) -> None:
    response = get(hub, path)
    assert response.status_code == 404
    page = dom(response)
    assert page.one("h1").text() == "Not found"
    assert "No " in page.one("p", class_="lead").text()


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/acme/encoder/abc", 400),  # not a version number
        ("/acme/encoder/0", 400),
        ("/a/b/c/d", 404),
        ("/acme/encoder?tf-hub-format=bogus", 400),
        ("/vault/secret-encoder?tf-hub-format=compressed", 404),
    ],
)
def test_page_like_urls_answer_browsers_with_html(
    hub: Hub, published: Published, path: str, status: int
) -> None:
    page = get(hub, path, headers=BROWSER)
    assert page.status_code == status
    assert dom(page).one("h1").text() == {400: "Bad request", 404: "Not found"}[status]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    for accept in ("*/*", "application/json", "application/json, text/html;q=0.5"):
        program = get(hub, path, headers={"Accept": accept})  # programs and clients: JSON
        assert program.status_code == status
        assert program.json()["error"]["message"] in dom(page).one("p", class_="lead").text()
    api = get(hub, "/api/v1/models/acme/encoder/versions/abc", headers=BROWSER)
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_version"


def test_private_pages_with_the_token_header(hub: Hub, published: Published) -> None:
    headers = {"Authorization": f"Bearer {published.vault}"}
    response = get(hub, "/vault/secret-encoder", headers=headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    page = dom(response)
    assert page.one("span", class_="private").text() == "private"
    assert titles(dom(get(hub, "/", params={"q": "secret"}, headers=headers))) == [
        "vault/secret-encoder"
    ]
    assert (
        get(hub, "/vault/secret-encoder", headers={"Authorization": "Bearer acme"}).status_code
        == 401
    )
    other = {"Authorization": f"Bearer {published.acme}"}
    assert get(hub, "/vault/secret-encoder", headers=other).status_code == 404


def test_login_cookie_shows_private_models_until_logout(hub: Hub, published: Published) -> None:
    with hub.client() as client:
        form = dom(client.get("/login", params={"next": "/vault/secret-encoder"}))
        assert form.one("input", name="next").attrs["value"] == "/vault/secret-encoder"
        assert form.one("label", **{"for": "token"}).text() == "Token"
        wrong = client.post("/login", data={"token": "tfhub_wrong", "next": "/vault"})
        assert (
            wrong.status_code == 401 and "not valid" in dom(wrong).one("p", class_="error").text()
        )
        assert "tfhub_token" not in client.cookies
        ok = client.post("/login", data={"token": published.vault, "next": "/vault/secret-encoder"})
        assert ok.status_code == 303 and ok.headers["location"] == "/vault/secret-encoder"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        page = dom(client.get("/vault/secret-encoder"))
        assert page.one("h1").text() == "vault/secret-encoder"
        assert "Token of vault" in page.one("form", class_="account").text()
        assert client.get("/vault").status_code == 200
        archive_link = page.one("a", download="").attrs["href"]  # the page's archive link
        archive = client.get(archive_link)
        assert archive.status_code == 200, archive.text
        assert archive.headers["etag"] == f'"{hashlib.sha256(archive.content).hexdigest()}"'
        assert archive.headers["cache-control"] == "private, no-cache"
        assert client.head(archive_link).status_code == 200
        assert httpx.get(archive_link, timeout=30).status_code == 404  # no cookie: hidden
        out = client.post("/logout")
        assert out.status_code == 303 and "tfhub_token" not in client.cookies
        assert client.get("/vault/secret-encoder").status_code == 404
        assert client.get(archive_link).status_code == 404


def test_login_refuses_open_redirects_and_other_sites(hub: Hub, published: Published) -> None:
    with hub.client() as client:
        r = client.post("/login", data={"token": published.acme, "next": "//evil.example/x"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        client.cookies.clear()
        foreign = {"Origin": "https://evil.example"}
        r = client.post("/login", data={"token": published.acme}, headers=foreign)
        assert r.status_code == 400 and "set-cookie" not in r.headers


def test_revoked_token_cookie_is_dropped(hub: Hub, published: Published) -> None:
    from tfhub.server.admin import create_token, revoke_token

    token, info = create_token(hub.hub.db, "vault")
    with hub.client() as client:
        assert client.post("/login", data={"token": token}).status_code == 303
        assert client.get("/vault").status_code == 200
        revoke_token(hub.hub.db, info.id)
        response = client.get("/vault")
        assert response.status_code == 404
        assert 'tfhub_token=""' in response.headers["set-cookie"]


# -- static files, package data, public URL, no TensorFlow --------------------------------------
def test_static_files_are_cached_and_versioned(hub: Hub, published: Published) -> None:
    page = dom(get(hub, "/"))
    css_url = page.one("link", rel="stylesheet").attrs["href"]
    assert re.fullmatch(r"/static/hub\.css\?v=[0-9a-f]{16}", css_url)
    css = get(hub, css_url)
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "@media" in css.text and "url(" not in css.text  # no fonts or images from elsewhere
    assert get(hub, "/static/hub.css?v=old").headers["cache-control"] == "public, max-age=300"
    again = get(hub, css_url, headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    js = get(hub, "/static/hub.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "navigator.clipboard" in js.text
    assert get(hub, "/static/../app.py").status_code == 404
    assert get(hub, "/static/nope.css").status_code == 404


def test_templates_and_static_files_ship_in_the_package() -> None:
    root = importlib.resources.files("tfhub.server")
    templates = {p.name for p in root.joinpath("templates").iterdir()}
    assert {"base.html", "home.html", "publisher.html", "model.html", "error.html",
            "login.html"} <= templates  # fmt: skip
    static = {p.name for p in root.joinpath("static").iterdir()}
    assert {"hub.css", "hub.js", "favicon.svg"} <= static
    # hatchling's wheel target ships every file under the listed package folder
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert 'packages = ["src/tfhub"]' in pyproject.read_text()


def test_public_url_is_used_for_handles(hub: Hub, published: Published) -> None:
    settings = dataclasses.replace(hub.hub.settings, public_url="https://models.example.com/hub")
    context = HubContext(settings, hub.hub.db, hub.hub.storage)
    with ServerThread(context) as server, httpx.Client(base_url=server.url) as client:
        page = dom(client.get("/acme/legacy-words"))
    handle = "https://models.example.com/hub/acme/legacy-words"
    assert page.one("input", id="handle-url").attrs["value"] == handle
    assert f"hub.Module('{handle}')" in page.one("pre", id="snippet-tf1").text()
    assert page.one("link", rel="stylesheet").attrs["href"].startswith("/hub/static/hub.css?v=")
    assert page.one("a", class_="brand").attrs["href"] == "/hub/"


def test_pages_import_no_tensorflow() -> None:
    code = (
        "import asyncio, sys, tempfile\n"
        "import httpx\n"
        "from tfhub.server.settings import ServerSettings\n"
        "from tfhub.server.context import HubContext\n"
        "from tfhub.server.app import create_app\n"
        "hub = HubContext.open(ServerSettings.from_env({}, data_dir=tempfile.mkdtemp()))\n"
        "hub.db.migrate()\n"
        "app = create_app(hub=hub)\n"
        "import tfhub.server.pages, tfhub.server.page_model, tfhub.inspection\n"
        "async def main():\n"
        "    transport = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "        return (await c.get('/')).status_code\n"
        "status = asyncio.run(main())\n"
        "print(status, app.state.model_page is not None,"
        " [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.strip() == "200 True []"


def test_json_and_pages_agree_on_the_model(hub: Hub, published: Published) -> None:
    with hub.client() as client:
        detail = client.get("/api/v1/models/acme/legacy-words/versions/latest").json()
    page = dom(get(hub, "/acme/legacy-words"))
    assert detail["format"] == "tf1-hub-module"
    assert page.one("p", class_="lead").text() == detail["description"]
    assert page.one("a", href=detail["handle"]).text() == detail["handle"]
