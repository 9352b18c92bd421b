"""Settings are read from the environment at call time, with clear errors for bad values."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import tfhub
from tfhub.config import Settings
from tfhub.core.cache import default_cache_root


def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.load_format, s.offline, s.retries, s.token) == ("COMPRESSED", False, 5, None)
    assert (s.connect_timeout, s.read_timeout) == (10.0, 60.0)


def test_values_are_parsed() -> None:
    s = Settings.from_env({
        "TFHUB_MODEL_LOAD_FORMAT": "uncompressed", "TFHUB_OFFLINE": "true",
        "TFHUB_RETRIES": "2", "TFHUB_READ_TIMEOUT": "1.5", "TFHUB_TOKEN": "t",
        "TFHUB_TOKEN_HOST": "Hub.Example.com:8443", "TFHUB_MAX_ARCHIVE_MEMBERS": "10",
    })  # fmt: skip
    assert s.load_format == "UNCOMPRESSED" and s.offline and s.retries == 2
    assert s.read_timeout == 1.5 and s.token_host == "hub.example.com:8443"
    assert s.max_archive_members == 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TFHUB_OFFLINE": "maybe"}, "TFHUB_OFFLINE='maybe' is not a boolean"),
        ({"TFHUB_RETRIES": "many"}, "TFHUB_RETRIES='many' is not an integer"),
        ({"TFHUB_READ_TIMEOUT": "-1"}, "must not be negative"),
        ({"TFHUB_MODEL_LOAD_FORMAT": "zip"}, "use COMPRESSED or UNCOMPRESSED"),
        ({"TFHUB_TOKEN": "secret"}, "TFHUB_TOKEN_HOST is not"),
    ],
)
def test_bad_values_raise_config_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(tfhub.ConfigError, match=message):
        Settings.from_env(env)


def test_settings_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    monkeypatch.setenv("TFHUB_OFFLINE", "nonsense")
    with pytest.raises(tfhub.ConfigError):
        tfhub.resolve(str(model))
    monkeypatch.setenv("TFHUB_OFFLINE", "1")
    assert tfhub.resolve(str(model)) == str(model)


def test_cache_defaults_to_the_user_cache_dir_not_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TFHUB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = default_cache_root()
    assert root == str(tmp_path / "xdg" / "tfhub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert not default_cache_root().startswith(tempfile.gettempdir())


def test_cache_dir_follows_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "a"))
    assert tfhub.Hub().cache().root == str(tmp_path / "a")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "b"))
    assert tfhub.Hub().cache().root == str(tmp_path / "b")
