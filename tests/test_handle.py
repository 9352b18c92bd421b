"""Handles are parsed once into normalised values; the cache key follows the normal form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tfhub import Handle, HandleError


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        ("https://hub.example.com/models/bert/1", "https://hub.example.com/models/bert/1"),
        ("HTTPS://Hub.Example.COM:443/models/bert/1/", "https://hub.example.com/models/bert/1"),
        ("http://h:80//a//b/", "http://h/a/b"),
        ("http://h:8080/a", "http://h:8080/a"),
        ("https://h/m?tf-hub-format=compressed", "https://h/m"),
        ("https://h/m?v=2&tf-hub-format=uncompressed&x=", "https://h/m?v=2&x="),
        ("https://h/m#frag", "https://h/m"),
        ("http://[::1]:9000/m", "http://[::1]:9000/m"),
        ("gs://bucket/models/m/", "gs://bucket/models/m"),
        ("S3://bucket/m.tar.gz", "s3://bucket/m.tar.gz"),
    ],
)
def test_urls_are_normalised(raw: str, location: str) -> None:
    assert str(Handle.parse(raw)) == location


def test_equivalent_urls_share_a_cache_key() -> None:
    a = Handle.parse("https://Hub.example.com:443/m/1/?tf-hub-format=compressed")
    b = Handle.parse("https://hub.example.com/m/1")
    c = Handle.parse("https://hub.example.com/m/2")
    assert a.cache_key == b.cache_key != c.cache_key
    assert a.cache_key.startswith("hub.example.com_m_1-")
    assert all(ch.isalnum() or ch in "._-" for ch in a.cache_key)


def test_local_paths_and_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Handle.parse("model").location == str(tmp_path / "model")
    assert Handle.parse(tmp_path / "m").location == str(tmp_path / "m")
    assert Handle.parse(f"file://{tmp_path}/m%20x").location == str(tmp_path / "m x")
    assert Handle.parse("file://localhost/tmp/m").location == "/tmp/m"
    assert Handle.parse("~/m").location == os.path.expanduser("~/m")
    assert not Handle.parse("model").is_remote


def test_with_format_keeps_existing_parameters() -> None:
    h = Handle.parse("https://h/m?token=abc&v=2")
    assert h.with_format("compressed") == "https://h/m?token=abc&v=2&tf-hub-format=compressed"


@pytest.mark.parametrize(
    "raw", ["https://h/m.tar.gz", "https://h/m.TGZ", "http://h/a/m.tar", "https://h/m.tar.zst"]
)
def test_archive_urls_are_recognised(raw: str) -> None:
    assert Handle.parse(raw).is_archive_url


def test_hub_urls_are_not_archives() -> None:
    assert not Handle.parse("https://h/models/tar/1").is_archive_url


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("file://otherhost/m", "only local files"),
        ("http:///m", "no host"),
        ("http://h:notaport/m", "Malformed URL"),
        ("gs://", "no bucket"),
    ],
)
def test_bad_handles_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(HandleError, match=message):
        Handle.parse(raw)


def test_non_string_handle_is_refused() -> None:
    with pytest.raises(HandleError, match="must be a string or path, got int"):
        Handle.parse(42)  # type: ignore[arg-type]


def test_credentials_are_redacted() -> None:
    h = Handle.parse("https://me:s3cret@hub.example.com/m")
    assert "s3cret" not in h.redacted()
    assert h.redacted() == "https://***@hub.example.com/m"


def test_handles_are_frozen_values() -> None:
    h = Handle.parse("https://h/m")
    with pytest.raises(AttributeError):
        h.location = "x"  # type: ignore[misc]
    assert h == Handle.parse("https://h/m/")
