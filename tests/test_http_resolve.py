"""``http(s)://`` handles against a real server on 127.0.0.1: hub URLs, archive URLs,
redirects, the uncompressed protocol, failures and retries, tokens and credentials, offline
mode and progress. Resuming and digests: test_http_resume.py."""

from __future__ import annotations

import base64
import io
import socket
import sys
import time

import pytest

import tfhub
from support.archives import model_archive
from support.model_archives import (
    assert_model,
    assert_nothing_installed,
    listing,
    random_model_archive,
)
from support.server import HubTestServer, Route
from tfhub.config import Settings
from tfhub.core.handle import Handle
from tfhub.core.progress import start_progress

pytestmark = pytest.mark.timeout(60)


# -- what is requested ------------------------------------------------------------------


def test_hub_url_gets_the_format_parameter_after_existing_ones(server, cache_dir):
    archive = model_archive("gz")
    server.add("/models/bert/1", Route(archive))
    path = tfhub.resolve(server.url("/models/bert/1?lang=en&v=2"))
    assert [s.path for s in server.seen] == ["/models/bert/1?lang=en&v=2&tf-hub-format=compressed"]
    assert_model(path, archive)
    assert path.startswith(str(cache_dir / "models"))


@pytest.mark.parametrize(
    ("name", "compression"),
    [("m.tar.gz", "gz"), ("m.tgz", "gz"), ("m.tar", "none"), ("m.tar.zst", "zst")],
)
def test_archive_urls_are_fetched_as_they_are(server, name, compression):
    archive = model_archive(compression)
    server.add(f"/files/{name}", Route(archive))
    path = tfhub.resolve(server.url(f"/files/{name}?sig=a%20b/c"))
    assert [s.path for s in server.seen] == [f"/files/{name}?sig=a%20b/c"]
    assert_model(path, archive)


@pytest.mark.parametrize("compression", ["gz", "zst", "none"])
def test_compression_is_detected_by_content_not_name(server, compression):
    archive = model_archive(compression, with_dirs=False)
    server.add("/hub/m/1", Route(archive))
    server.add("/misnamed.tar.gz", Route(archive))
    assert_model(tfhub.resolve(server.url("/hub/m/1")), archive)
    assert_model(tfhub.resolve(server.url("/misnamed.tar.gz")), archive)


def test_redirect_chain_is_followed(server):
    archive = model_archive("zst")
    server.add("/a", Route(status=301, redirect="/b"))
    server.add("/b", Route(status=302, redirect=server.url("/c")))
    server.add("/c", Route(status=307, redirect="/store/m.tar.zst"))
    server.add("/store/m.tar.zst", Route(archive))
    assert_model(tfhub.resolve(server.url("/a")), archive)
    assert [s.plain_path for s in server.seen] == ["/a", "/b", "/c", "/store/m.tar.zst"]


def test_too_many_redirects_is_a_download_error(server, cache_dir):
    server.add("/loop", Route(status=302, redirect="/loop"))
    with pytest.raises(tfhub.DownloadError, match="redirects too many times"):
        tfhub.resolve(server.url("/loop"))
    assert server.hits_for("/loop") <= 12
    assert_nothing_installed(cache_dir)


# -- TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED ---------------------------------------------------


@pytest.fixture
def uncompressed(monkeypatch):
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "UNCOMPRESSED")


def test_uncompressed_reads_the_303_location_in_place(server, cache_dir, tmp_path, uncompressed):
    model = tmp_path / "storage" / "bert"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"pb")
    server.add("/m/1", Route(status=303, redirect=model.as_uri()))
    assert tfhub.resolve(server.url("/m/1?x=1")) == str(model)
    assert [s.path for s in server.seen] == ["/m/1?x=1&tf-hub-format=uncompressed"]
    assert tfhub.resolve(server.url("/m/1?x=1")) == str(model)  # never cached: asks again
    assert server.hits_for("/m/1") == 2
    assert listing(cache_dir, "models") == []


def test_uncompressed_follows_plain_redirects_to_the_303(server, tmp_path, uncompressed):
    model = tmp_path / "model"
    model.mkdir()
    server.add("/old/1", Route(status=301, redirect="/new/1"))
    server.add("/new/1", Route(status=303, redirect=model.as_uri()))
    assert tfhub.resolve(server.url("/old/1")) == str(model)


def test_uncompressed_200_is_a_clear_error(server, cache_dir, uncompressed):
    server.add("/m/1", Route(model_archive("gz") * 50))
    with pytest.raises(tfhub.DownloadError, match="does not serve models uncompressed"):
        tfhub.resolve(server.url("/m/1"))
    assert listing(cache_dir, "models") == []


def test_uncompressed_refuses_an_http_location(server, uncompressed):
    server.add("/m/1", Route(status=303, redirect=server.url("/elsewhere/m.tar.gz")))
    server.add("/elsewhere/m.tar.gz", Route(model_archive("gz")))
    with pytest.raises(tfhub.DownloadError, match="cannot be read in place"):
        tfhub.resolve(server.url("/m/1"))
    assert server.hits_for("/elsewhere/m.tar.gz") == 0


def test_uncompressed_redirect_loop_is_a_download_error(server, uncompressed):
    server.add("/m/1", Route(status=302, redirect="/m/1"))
    with pytest.raises(tfhub.DownloadError, match="redirects too many times"):
        tfhub.resolve(server.url("/m/1"))


def test_uncompressed_missing_model_is_not_found(server, uncompressed):
    with pytest.raises(tfhub.ModelNotFoundError, match="No model at"):
        tfhub.resolve(server.url("/nothing/1"))


def test_uncompressed_archive_url_is_still_downloaded(server, uncompressed):
    archive = model_archive("gz")
    server.add("/m.tar.gz", Route(archive))
    assert_model(tfhub.resolve(server.url("/m.tar.gz")), archive)


# -- failures --------------------------------------------------------------------------


def test_404_is_model_not_found(server, cache_dir):
    url = server.url("/models/missing/1")
    with pytest.raises(tfhub.ModelNotFoundError, match=f"No model at {url}"):
        tfhub.resolve(url)
    assert_nothing_installed(cache_dir)


def test_401_says_how_to_send_a_token(server):
    server.add("/m/1", Route(b"who are you", status=401, content_type="text/plain"))
    with pytest.raises(tfhub.DownloadError, match=r"denied \(HTTP 401\).*TFHUB_TOKEN_HOST"):
        tfhub.resolve(server.url("/m/1"))


def test_proxy_from_the_environment_is_used(server, monkeypatch):
    """The handle names a host that does not exist: only the proxy (the test server) is
    contacted, with the absolute URL in the request line."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url(""))
    archive = model_archive("gz")
    server.add("/m/1", Route(archive))
    assert_model(tfhub.resolve("http://hub.invalid/m/1"), archive)
    assert [s.path for s in server.seen] == ["http://hub.invalid/m/1?tf-hub-format=compressed"]


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8"])
def test_html_page_is_not_an_archive(server, cache_dir, content_type):
    page = b"<!doctype html><html><body>" + b"Sign in to continue. " * 100 + b"</body></html>"
    server.add("/m/1", Route(page, content_type=content_type))
    url = server.url("/m/1")
    with pytest.raises(tfhub.NotAnArchiveError) as info:
        tfhub.resolve(url)
    assert str(info.value).startswith(f"{url} did not return a model archive (got text/html)")
    assert_nothing_installed(cache_dir)


def test_503_is_retried_then_succeeds(server, monkeypatch):
    monkeypatch.setenv("TFHUB_RETRIES", "3")
    archive = model_archive("gz")
    server.add("/m/1", Route(archive, fail_times=2))
    assert_model(tfhub.resolve(server.url("/m/1")), archive)
    assert server.hits_for("/m/1") == 3


def test_503_forever_gives_up_after_the_retries(server, monkeypatch, cache_dir):
    monkeypatch.setenv("TFHUB_RETRIES", "2")
    server.add("/m/1", Route(model_archive("gz"), fail_times=1000))
    with pytest.raises(tfhub.DownloadError, match="after 2 retries: HTTP 503"):
        tfhub.resolve(server.url("/m/1"))
    assert server.hits_for("/m/1") == 3
    assert listing(cache_dir, "models") == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_a_download_error_after_retries(monkeypatch, cache_dir):
    monkeypatch.setenv("TFHUB_RETRIES", "2")
    start = time.monotonic()
    with pytest.raises(tfhub.DownloadError, match="after 2 retries") as info:
        tfhub.resolve(f"http://127.0.0.1:{_closed_port()}/m/1")
    assert "reachable" in str(info.value)
    assert time.monotonic() - start < 10
    assert listing(cache_dir, "models") == []


def test_slow_server_hits_the_read_timeout(server, monkeypatch):
    monkeypatch.setenv("TFHUB_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("TFHUB_RETRIES", "1")
    server.add("/m/1", Route(model_archive("gz"), stall=20))
    start = time.monotonic()
    with pytest.raises(tfhub.DownloadError, match="after 1 retries"):
        tfhub.resolve(server.url("/m/1"))
    assert time.monotonic() - start < 8


def test_unsupported_redirect_target_fails_at_once(server, monkeypatch):
    monkeypatch.setenv("TFHUB_RETRIES", "5")
    server.add("/m/1", Route(status=302, redirect="ftp://127.0.0.1/m.tar.gz"))
    start = time.monotonic()
    with pytest.raises(tfhub.DownloadError, match="ftp"):
        tfhub.resolve(server.url("/m/1"))
    assert time.monotonic() - start < 2
    assert server.hits_for("/m/1") == 1


# -- tokens -----------------------------------------------------------------------------


def _auth(seen) -> str | None:
    return seen.headers.get("Authorization")


@pytest.fixture
def token(monkeypatch, server) -> str:
    secret = "tok-3f9a1c77e2b54d08"
    monkeypatch.setenv("TFHUB_TOKEN", secret)
    monkeypatch.setenv("TFHUB_TOKEN_HOST", f"127.0.0.1:{server.port}")
    return secret


def test_token_is_sent_to_its_host(server, token):
    server.add("/m/1", Route(model_archive("gz")))
    tfhub.resolve(server.url("/m/1"))
    assert [_auth(s) for s in server.seen] == [f"Bearer {token}"]


def test_token_is_not_sent_to_another_port_after_a_redirect(server, token):
    archive = model_archive("gz")
    with HubTestServer() as other:
        other.add("/store/m.tar.gz", Route(archive))
        server.add("/m/1", Route(status=302, redirect=other.url("/store/m.tar.gz")))
        assert_model(tfhub.resolve(server.url("/m/1")), archive)
        assert [_auth(s) for s in server.seen] == [f"Bearer {token}"]
        assert [_auth(s) for s in other.seen] == [None]


def test_token_is_not_sent_to_another_name_of_the_same_address(server, token):
    server.add("/m/1", Route(model_archive("gz")))
    tfhub.resolve(f"http://localhost:{server.port}/m/1")
    assert [_auth(s) for s in server.seen] == [None]


def test_token_host_without_port_means_the_default_port(server, token, monkeypatch):
    monkeypatch.setenv("TFHUB_TOKEN_HOST", "127.0.0.1")
    server.add("/m/1", Route(model_archive("gz")))
    tfhub.resolve(server.url("/m/1"))
    assert [_auth(s) for s in server.seen] == [None]


def test_token_without_host_is_a_config_error(server, monkeypatch):
    monkeypatch.setenv("TFHUB_TOKEN", "tok-3f9a1c77e2b54d08")
    server.add("/m/1", Route(model_archive("gz")))
    with pytest.raises(tfhub.ConfigError, match="TFHUB_TOKEN_HOST") as info:
        tfhub.resolve(server.url("/m/1"))
    assert "tok-3f9a1c77e2b54d08" not in str(info.value)
    assert server.seen == []


def test_token_never_appears_in_logs_or_errors(server, token, caplog, monkeypatch):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("TFHUB_DISABLE_PROGRESS", "0")
    monkeypatch.setenv("TFHUB_RETRIES", "3")
    archive = random_model_archive(300_000)
    server.add("/ok/1", Route(archive, truncate_at=100_000, truncate_times=1, fail_times=1))
    server.add("/denied/1", Route(b"no", status=403))
    tfhub.resolve(server.url("/ok/1"))
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    errors = []
    for path in ("/denied/1", "/missing/1"):
        with pytest.raises(tfhub.HubError) as info:
            tfhub.resolve(server.url(path))
        errors.append(str(info.value))
    with pytest.raises(tfhub.DownloadError) as info:
        tfhub.resolve(f"http://127.0.0.1:{_closed_port()}/m/1")
    errors.append(str(info.value))
    assert caplog.records  # the capture worked
    assert any(_auth(s) == f"Bearer {token}" for s in server.seen)
    for text in [caplog.text, *errors, *(repr(r.__dict__) for r in caplog.records)]:
        assert token not in text


def test_credentials_in_the_url_are_sent_but_never_logged_or_stored(
    server, cache_dir, token, caplog
):
    caplog.set_level("DEBUG")
    archive = random_model_archive(300_000)
    server.add("/m/1", Route(archive, truncate_at=100_000, truncate_times=1))
    url = f"http://reader:pa55-w0rd@127.0.0.1:{server.port}/m/1"
    assert_model(tfhub.resolve(url), archive)
    basic = "Basic " + base64.b64encode(b"reader:pa55-w0rd").decode()
    assert [_auth(s) for s in server.seen] == [basic, basic]  # the token does not replace it
    assert "pa55-w0rd" not in caplog.text
    for path in cache_dir.rglob("*.json"):
        assert "pa55-w0rd" not in path.read_text()


def test_cache_key_holds_no_credentials():
    key = Handle.parse("http://reader:pa55-w0rd@127.0.0.1/m/1").cache_key
    assert "pa55-w0rd" not in key and "reader" not in key


# -- offline ----------------------------------------------------------------------------


def test_offline_resolves_a_cached_handle_without_the_network(server, monkeypatch):
    archive = model_archive("gz")
    server.add("/m/1", Route(archive))
    path = tfhub.resolve(server.url("/m/1"))
    monkeypatch.setenv("TFHUB_OFFLINE", "1")
    assert tfhub.resolve(server.url("/m/1")) == path
    assert tfhub.Hub().resolve(server.url("/m/1")) == path  # a fresh process's view
    assert len(server.seen) == 1


@pytest.mark.parametrize("fmt", ["COMPRESSED", "UNCOMPRESSED"])
def test_offline_uncached_fails_at_once(server, monkeypatch, cache_dir, fmt):
    monkeypatch.setenv("TFHUB_OFFLINE", "1")
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", fmt)
    server.add("/m/1", Route(model_archive("gz")))
    with pytest.raises(tfhub.OfflineError, match="TFHUB_OFFLINE"):
        tfhub.resolve(server.url("/m/1"))
    assert server.seen == []
    assert listing(cache_dir, "models") == []


# -- progress ---------------------------------------------------------------------------


def test_progress_is_logged_when_not_on_a_terminal(server, monkeypatch, caplog, capsys):
    monkeypatch.delenv("TFHUB_DISABLE_PROGRESS")
    caplog.set_level("INFO", logger="tfhub")
    server.add("/m/1", Route(random_model_archive(300_000)))
    tfhub.resolve(server.url("/m/1"))
    messages = [r.getMessage() for r in caplog.records if r.name == "tfhub"]
    assert any(m.startswith("Downloading http://127.0.0.1") for m in messages), messages
    assert any(m.startswith("Downloaded http://127.0.0.1") for m in messages), messages
    assert "%|" not in capsys.readouterr().err  # no tqdm bar


def test_progress_bar_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = start_progress("demo", 1000, Settings())
    bar.update(1000)
    bar.close()
    drawn = sys.stderr.getvalue()
    assert "demo:" in drawn and "0.98k" in drawn and "B/s" in drawn  # bytes, total, rate
    quiet = start_progress("demo", 1000, Settings(disable_progress=True))
    quiet.close()
    assert type(quiet).__name__ == "_LogProgress"


def test_failed_download_is_not_logged_as_downloaded(server, monkeypatch, caplog):
    monkeypatch.setenv("TFHUB_RETRIES", "0")
    caplog.set_level("INFO", logger="tfhub")
    server.add("/m/1", Route(random_model_archive(300_000), truncate_at=100_000))
    with pytest.raises(tfhub.DownloadError):
        tfhub.resolve(server.url("/m/1"))
    assert not any(r.getMessage().startswith("Downloaded") for r in caplog.records)
