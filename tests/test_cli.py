"""The ``tfhub`` command line: download and cache ls / verify / rm / prune."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.archives import model_archive
from support.server import HubTestServer, Route
from tfhub.cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def handle(server: HubTestServer) -> str:
    server.add("/models/m/1", Route(model_archive("gz")))
    return server.url("/models/m/1")


def test_download_prints_the_local_path(handle: str, cache_dir: Path) -> None:
    code, out, _ = run("download", handle)
    assert code == 0
    path = out.strip()
    assert path.startswith(str(cache_dir)) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def test_download_error_is_one_clear_line(server: HubTestServer) -> None:
    code, out, err = run("download", server.url("/nothing"))
    assert code == 1 and out == ""
    assert err.startswith("error: No model at http://127.0.0.1:")
    assert "Traceback" not in err


def test_cache_dir_option_overrides_the_environment(handle: str, tmp_path: Path) -> None:
    other = tmp_path / "other-cache"
    code, out, _ = run("--cache-dir", str(other), "download", handle)
    assert code == 0 and out.strip().startswith(str(other))


def test_ls_lists_models_with_status(handle: str, cache_dir: Path) -> None:
    run("download", handle)
    code, out, _ = run("cache", "ls", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["cache"] == str(cache_dir)
    [model] = data["models"]
    assert model["handle"] == handle and model["status"] == "ok" and model["files"] == 4
    code, out, _ = run("cache", "ls")
    assert handle in out and "4 files" in out and ", ok" in out


def test_verify_finds_changed_content_and_the_next_use_heals_it(
    handle: str, server: HubTestServer
) -> None:
    _, out, _ = run("download", handle)
    data = Path(out.strip(), "variables", "variables.data-00000-of-00001")
    data.write_bytes(b"\x01" * data.stat().st_size)  # same size: only sha256 sees it
    code, out, _ = run("cache", "verify")
    assert code == 1
    assert "damaged" in out and "variables.data-00000-of-00001" in out and "0 ok, 1 damaged" in out
    hits = server.hits["/models/m/1?tf-hub-format=compressed"]
    code, out, _ = run("download", handle)
    assert code == 0 and server.hits["/models/m/1?tf-hub-format=compressed"] == hits + 1
    assert data.read_bytes() == bytes(len(data.read_bytes()))
    code, out, _ = run("cache", "verify", handle)
    assert code == 0 and "1 ok, 0 damaged" in out


def test_rm_removes_a_model(handle: str, cache_dir: Path) -> None:
    _, out, _ = run("download", handle)
    code, out2, _ = run("cache", "rm", handle)
    assert code == 0 and "removed" in out2
    assert not os.path.exists(out.strip())
    code, _, err = run("cache", "rm", handle)
    assert code == 1 and "not in the cache" in err


def test_prune_removes_damaged_models_only(handle: str, server: HubTestServer) -> None:
    server.add("/models/keep/1", Route(model_archive("zst")))
    _, damaged, _ = run("download", handle)
    _, kept, _ = run("download", server.url("/models/keep/1"))
    os.unlink(os.path.join(damaged.strip(), "saved_model.pb"))
    code, out, _ = run("cache", "prune", "--dry-run")
    assert code == 0 and "would remove 1 items" in out
    assert os.path.exists(os.path.dirname(damaged.strip()))
    code, out, _ = run("cache", "prune")
    assert code == 0 and "removed 1 items" in out
    assert not os.path.exists(os.path.dirname(damaged.strip()))
    assert os.path.isfile(os.path.join(kept.strip(), "saved_model.pb"))


def test_console_script_and_module_entry_points(handle: str) -> None:
    exe = Path(sys.executable).with_name("tfhub")
    out = subprocess.run(
        [str(exe), "download", handle], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert os.path.isdir(out.strip())
    version = subprocess.run(
        [sys.executable, "-m", "tfhub", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("tfhub, version ")


def _tfhub(*args: str) -> subprocess.CompletedProcess[str]:
    """A real ``python -m tfhub`` process (its logging is configured as a user's would be)."""
    return subprocess.run(
        [sys.executable, "-m", "tfhub", *args], capture_output=True, text=True, timeout=60
    )


def test_logs_show_tfhubs_progress_with_units_but_not_other_libraries_info(
    handle: str, server: HubTestServer
) -> None:
    server.add("/models/other/1", Route(model_archive("gz")))
    size = len(model_archive("gz"))
    proc = _tfhub("download", handle)
    assert proc.returncode == 0, proc.stderr
    # tfhub's own INFO lines, with a size in sensible units (it used to be "(0.0 MB)")
    shown = f"{size / 1e3:.1f} KB" if size >= 1000 else f"{size} B"
    assert f"Downloading {handle} ({shown})" in proc.stderr
    assert f"Downloaded {handle}: {shown} in " in proc.stderr
    assert "0.0 MB" not in proc.stderr
    assert "HTTP Request" not in proc.stderr  # httpx's INFO line for every request
    verbose = _tfhub("-v", "download", server.url("/models/other/1"))
    assert verbose.returncode == 0, verbose.stderr
    assert "HTTP Request: GET http://127.0.0.1:" in verbose.stderr
    assert "Downloading http://127.0.0.1:" in verbose.stderr
    quiet = _tfhub("-q", "cache", "ls")
    assert quiet.returncode == 0 and quiet.stderr == ""
    both = _tfhub("-q", "-v", "cache", "ls")
    assert both.returncode == 2 and "either -q/--quiet or -v/--verbose" in both.stderr


def test_prune_help_names_days() -> None:
    code, out, _ = run("cache", "prune", "--help")
    assert code == 0 and "--older-than DAYS" in out and "FLOAT" not in out
