"""The server's small pure parts: names, settings, range planning, content negotiation, the
streaming multipart parser and README rendering."""

from __future__ import annotations

import httpx
import pytest

from tfhub.errors import ServerError
from tfhub.server.accept import wants_zstd
from tfhub.server.markdown import render, summary
from tfhub.server.multipart import END, MultipartParser, Part, boundary_of
from tfhub.server.names import check_name, parse_version
from tfhub.server.ranges import Plan, plan
from tfhub.server.runner import admin_options
from tfhub.server.settings import ServerSettings, redact

ETAG = '"' + "ab" * 32 + '"'
MODIFIED = 1_700_000_000.0
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"  # MODIFIED


@pytest.mark.parametrize("name", ["a", "bert", "text-encoder_v2", "resnet.50", "x" * 64, "9lives"])
def test_valid_names(name: str) -> None:
    assert check_name(name, "model") == name


@pytest.mark.parametrize(
    "name", ["", "Bert", "-a", "a-", "a.", "a b", "a/b", "x" * 65, "é", "..", "a\n"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(ServerError) as info:
        check_name(name, "model")
    assert info.value.status == 400 and info.value.code == "invalid_name"


def test_hub_paths_are_reserved_publisher_names() -> None:
    for name in ("api", "static", "healthz", "login"):
        with pytest.raises(ServerError, match="reserved"):
            check_name(name, "publisher")
    assert check_name("api", "model") == "api"


@pytest.mark.parametrize("text", ["0", "01", "-1", "1.0", "x", "", "99999999999", "\uff11"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ServerError, match="positive integers"):
        parse_version(text)


def test_settings_from_the_environment_and_back(tmp_path: object) -> None:
    env = {
        "TFHUB_SERVER_DATA_DIR": "/srv/hub",
        "TFHUB_SERVER_DATABASE": "postgresql://hub:pw@db/hub",
        "TFHUB_SERVER_STORAGE": "s3://bucket/models",
        "TFHUB_SERVER_MAX_UPLOAD_BYTES": "1000",
        "TFHUB_SERVER_PUBLIC_URL": "https://hub.example.com/",
    }
    settings = ServerSettings.from_env(env, port=9000)
    assert settings.database_url == env["TFHUB_SERVER_DATABASE"]
    assert settings.storage_url == env["TFHUB_SERVER_STORAGE"]
    assert settings.max_upload_bytes == 1000 and settings.port == 9000
    assert settings.public_url == "https://hub.example.com"
    assert ServerSettings.from_env(settings.to_env(), port=9000) == settings
    assert "pw" not in settings.describe()
    with pytest.raises(ValueError, match="TFHUB_SERVER_MAX_UPLOAD_BYTES"):
        ServerSettings.from_env({"TFHUB_SERVER_MAX_UPLOAD_BYTES": "lots"})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql://***@h/db"),
        ("s3://bucket/p?secret_key=abc&region=x", "s3://bucket/p?secret_key=***&region=x"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, Plan(200, 0, 100)),
        ({"range": "bytes=0-0"}, Plan(206, 0, 1)),
        ({"range": "bytes=90-200"}, Plan(206, 90, 10)),
        ({"range": "bytes=-200"}, Plan(206, 0, 100)),
        ({"range": "bytes=-0"}, Plan(416)),
        ({"range": "bytes=100-"}, Plan(416)),
        ({"range": "bytes=5-2"}, Plan(200, 0, 100)),  # invalid: ignored
        ({"range": "items=0-5"}, Plan(200, 0, 100)),
        ({"range": "bytes=0-5", "if-range": ETAG}, Plan(206, 0, 6)),
        ({"range": "bytes=0-5", "if-range": "W/" + ETAG}, Plan(200, 0, 100)),  # weak: never
        ({"range": "bytes=0-5", "if-range": DATE}, Plan(206, 0, 6)),
        ({"range": "bytes=0-5", "if-range": "Mon, 01 Jan 2001 00:00:00 GMT"}, Plan(200, 0, 100)),
        ({"if-none-match": ETAG, "range": "bytes=0-5"}, Plan(304)),
        ({"if-none-match": '"other"', "if-modified-since": DATE}, Plan(200, 0, 100)),
        ({"if-modified-since": DATE}, Plan(304)),
        ({"if-modified-since": "not a date"}, Plan(200, 0, 100)),
    ],
)
def test_range_and_conditional_plans(headers: dict[str, str], expected: Plan) -> None:
    assert plan(headers, size=100, etag=ETAG, modified=MODIFIED) == expected


@pytest.mark.parametrize(
    ("accept", "zstd"),
    [
        ("application/zstd", True),
        ("application/zstd, application/gzip;q=0.9, */*;q=0.5", True),
        ("application/gzip, application/zstd;q=0.5", False),
        ("application/zstd;q=0", False),
        ("application/zstd;q=x", False),
        ("*/*", False),
        ("", False),
        (None, False),
    ],
)
def test_zstd_is_sent_only_when_preferred(accept: str | None, zstd: bool) -> None:
    assert wants_zstd(accept) is zstd


def _body() -> tuple[bytes, str, bytes]:
    archive = b"\r\n--boundary-lookalike\r\n" * 50 + bytes(range(256)) * 40
    request = httpx.Request(
        "POST", "http://hub/", files={"archive": ("m.tar.gz", archive)},
        data={"readme": "# R\r\n\r\ntext", "tags": "a,b"},
    )  # fmt: skip
    return request.read(), request.headers["content-type"], archive


def _parse(body: bytes, content_type: str, step: int) -> dict[str, bytes]:
    parser = MultipartParser(boundary_of(content_type))
    events: list[Part | bytes | object] = []
    for i in range(0, len(body), step):
        events += parser.feed(body[i : i + step])
    events += parser.finish()
    parts: dict[str, bytes] = {}
    current = None
    for event in events:
        if isinstance(event, Part):
            current = event.name
            parts[current] = b""
        elif isinstance(event, bytes):
            assert current is not None
            parts[current] += event
        else:
            assert event is END
    return parts


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1000, 10**9])
def test_multipart_parts_survive_every_split(step: int) -> None:
    body, content_type, archive = _body()
    parts = _parse(body, content_type, step)
    assert parts == {"readme": b"# R\r\n\r\ntext", "tags": b"a,b", "archive": archive}


_PADDING = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(20))
"""Twenty headers of 1 kB: each within python-multipart's limit, together too long."""


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda b: b[:-30], "ends before the closing boundary"),
        (lambda b: b.replace(b"Content-Disposition", b"X-Nothing", 1), "no 'Content-Disposition"),
        (lambda b: b.replace(b'name="readme"', b'filename="x"', 1), "no field name"),
        (
            lambda b: b.replace(b'name="readme"\r\n', b'name="readme"\r\n' + _PADDING, 1),
            "headers are too long",
        ),
    ],
)
def test_malformed_multipart_is_refused(mutate: object, why: str) -> None:
    body, content_type, _ = _body()
    with pytest.raises(ServerError, match=why):
        _parse(mutate(body), content_type, 100)  # type: ignore[operator]


def test_a_content_type_without_boundary_is_refused() -> None:
    with pytest.raises(ServerError, match="no valid boundary"):
        boundary_of("multipart/form-data")


def test_readme_rendering_is_safe() -> None:
    html = render("[x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://a.b)")
    assert 'href="javascript' not in html and "<img" not in html
    assert '<a href="https://a.b" rel="nofollow noopener noreferrer">ok</a>' in html
    assert summary("# Title\n\n```\ncode\n```\n\n- item\n\nThe [first](x) *real* text.") == (
        "The first real text."
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ""),  # the defaults: nothing to repeat
        ({"data_dir": "/srv/my hub"}, " --data-dir '/srv/my hub'"),
        ({"database_url": "sqlite:////srv/other.db"}, " --database sqlite:////srv/other.db"),
        (
            {"database_url": "postgresql://hub:s3cret@db/hub"},
            " --database 'postgresql://***@db/hub'",
        ),
    ],
)
def test_the_banner_names_the_hubs_database(overrides: dict[str, str], expected: str) -> None:
    settings = ServerSettings.from_env({}, **overrides)
    assert admin_options(settings) == expected
