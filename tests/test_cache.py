"""The model cache: layout, manifest, damage detection and healing, verify, prune, remove."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

import tfhub
from support.archives import model_archive
from support.model_archives import assert_model, disk_files
from support.server import Route
from tfhub.core import maintenance
from tfhub.core.cache import Cache, InstallInfo, default_cache_root
from tfhub.core.handle import Handle
from tfhub.core.maintenance import prune, verify
from tfhub.core.manifest import Manifest

pytestmark = pytest.mark.timeout(60)


class Served:
    """One model served at ``/m/<name>`` and resolved once."""

    def __init__(self, server, name: str = "1", archive: bytes | None = None) -> None:
        self.server = server
        self.archive = archive or model_archive("gz")
        self.plain = f"/m/{name}"
        server.add(self.plain, Route(self.archive))
        self.url = server.url(self.plain)
        self.handle = Handle.parse(self.url)
        self.path = tfhub.resolve(self.url)

    @property
    def hits(self) -> int:
        return self.server.hits_for(self.plain)

    @property
    def entry(self) -> Path:
        return Path(self.path).parent


def names(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.exists() else []


# -- layout and manifest ------------------------------------------------------------------


def test_layout(server, cache_dir):
    served = Served(server)
    key = served.handle.cache_key
    assert served.path == str(cache_dir / "models" / key / "model")
    assert names(cache_dir) == ["locks", "models", "partial", "staging"]
    assert names(cache_dir / "models") == [key]
    assert names(cache_dir / "models" / key) == ["COMPLETE", "manifest.json", "model"]
    assert names(cache_dir / "staging") == []
    assert names(cache_dir / "partial") == []
    assert names(cache_dir / "locks") == [key + ".lock"]
    assert_model(served.path, served.archive)


def test_manifest_lists_every_file_with_size_and_sha256(server):
    served = Served(server)
    manifest = Manifest.from_json((served.entry / "manifest.json").read_text())
    on_disk = disk_files(served.path)
    assert {e.path: (e.size, e.sha256) for e in manifest.entries} == {
        path: (len(data), hashlib.sha256(data).hexdigest()) for path, data in on_disk.items()
    }
    assert manifest.handle == served.url
    assert manifest.source == served.url + "?tf-hub-format=compressed"
    assert manifest.archive_sha256 == hashlib.sha256(served.archive).hexdigest()
    assert manifest.archive_bytes == len(served.archive)
    assert json.loads((served.entry / "manifest.json").read_text())["version"] == 1


def test_default_cache_root_is_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TFHUB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == str(tmp_path / "xdg" / "tfhub")
    monkeypatch.setenv("TFHUB_CACHE_DIR", "~/models-cache")
    assert default_cache_root() == os.path.expanduser("~/models-cache")


# -- hits, damage and healing -------------------------------------------------------------


def test_second_resolve_is_a_hit_without_a_request(server):
    served = Served(server)
    assert tfhub.resolve(served.url) == served.path
    assert tfhub.Hub().resolve(served.url) == served.path
    assert served.hits == 1


def test_a_hit_needs_the_completion_marker(server):
    served = Served(server)
    (served.entry / "COMPLETE").unlink()
    assert tfhub.resolve(served.url) == served.path
    assert served.hits == 2
    assert (served.entry / "COMPLETE").exists()
    assert_model(served.path, served.archive)


@pytest.mark.parametrize(
    "victim", ["variables/variables.data-00000-of-00001", "saved_model.pb", "assets"]
)
def test_files_deleted_by_a_cleaner_are_downloaded_again(server, victim):
    served = Served(server)
    target = Path(served.path, victim)
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    else:
        target.unlink()
    assert tfhub.resolve(served.url) == served.path
    assert served.hits == 2
    assert_model(served.path, served.archive)


def test_a_truncated_file_is_downloaded_again(server):
    served = Served(server)
    data = Path(served.path, "saved_model.pb")
    data.write_bytes(data.read_bytes()[:10])
    assert tfhub.resolve(served.url) == served.path
    assert served.hits == 2
    assert_model(served.path, served.archive)


def test_a_missing_manifest_is_damage(server):
    served = Served(server)
    (served.entry / "manifest.json").unlink()
    tfhub.Hub().resolve(served.url)
    assert served.hits == 2
    assert (served.entry / "manifest.json").exists()


def test_same_size_change_is_caught_by_verify_which_heals(server, cache_dir):
    served = Served(server)
    data = Path(served.path, "saved_model.pb")
    original = data.read_bytes()
    data.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    assert tfhub.resolve(served.url) == served.path  # the cheap check cannot see it
    assert served.hits == 1
    results = verify(Cache(cache_dir))
    assert [(r.entry.key, r.problems) for r in results] == [
        (served.handle.cache_key, ["saved_model.pb: content changed (sha256 mismatch)"])
    ]
    assert not (served.entry / "COMPLETE").exists()
    assert tfhub.resolve(served.url) == served.path
    assert served.hits == 2
    assert data.read_bytes() == original
    assert [r.ok for r in verify(Cache(cache_dir))] == [True]


def test_verify_catches_a_file_swapped_for_a_link_to_the_same_bytes(server, cache_dir, tmp_path):
    served = Served(server)
    data = Path(served.path, "saved_model.pb")
    copy = tmp_path / "elsewhere.pb"
    copy.write_bytes(data.read_bytes())
    data.unlink()
    data.symlink_to(copy)
    (result,) = verify(Cache(cache_dir))
    assert [p.split(":")[0] for p in result.problems] == ["saved_model.pb"]
    assert tfhub.resolve(served.url) == served.path
    assert not Path(served.path, "saved_model.pb").is_symlink()
    assert_model(served.path, served.archive)


def test_verify_passes_an_intact_cache(server, cache_dir):
    Served(server, "1")
    Served(server, "2", model_archive("zst"))
    results = verify(Cache(cache_dir))
    assert [r.ok for r in results] == [True, True]
    assert all((Path(r.entry.path) / "COMPLETE").exists() for r in results)


def test_offline_damaged_entry_is_a_corrupt_cache_error(server, monkeypatch):
    served = Served(server)
    Path(served.path, "saved_model.pb").unlink()
    monkeypatch.setenv("TFHUB_OFFLINE", "1")
    with pytest.raises(tfhub.CorruptCacheError, match=r"saved_model\.pb: missing"):
        tfhub.resolve(served.url)
    assert served.hits == 1


# -- failed installs --------------------------------------------------------------------


def test_a_failed_fill_leaves_nothing_behind(cache_dir):
    cache = Cache(cache_dir)
    handle = Handle.parse("https://hub.example.com/m/1")

    def fill(model_dir: str) -> InstallInfo:
        Path(model_dir, "saved_model.pb").write_bytes(b"half")
        raise tfhub.DownloadError("cut")

    with pytest.raises(tfhub.DownloadError):
        cache.get_or_install(handle, fill)
    assert names(cache_dir / "models") == []
    assert names(cache_dir / "staging") == []
    assert cache.lookup(handle) is None


def test_a_failed_reinstall_keeps_the_damage_visible(server, cache_dir):
    served = Served(server)
    Path(served.path, "saved_model.pb").unlink()
    server.routes[served.plain] = Route(b"<html>gone</html>", content_type="text/html")
    with pytest.raises(tfhub.NotAnArchiveError):
        tfhub.resolve(served.url)
    assert names(cache_dir / "staging") == []
    assert Cache(cache_dir).lookup(served.handle) is None


def test_install_replaces_a_damaged_entry(cache_dir):
    cache = Cache(cache_dir)
    handle = Handle.parse("https://hub.example.com/m/1")
    version = iter([b"one", b"two"])

    def fill(model_dir: str) -> InstallInfo:
        Path(model_dir, "saved_model.pb").write_bytes(next(version))
        return InstallInfo(source="test")

    path = cache.get_or_install(handle, fill)
    Path(path, "saved_model.pb").write_bytes(b"x")
    assert cache.get_or_install(handle, fill) == path
    assert Path(path, "saved_model.pb").read_bytes() == b"two"
    assert names(cache_dir / "staging") == []


def test_lock_held_too_long_is_a_timeout_error(cache_dir, monkeypatch):
    monkeypatch.setenv("TFHUB_LOCK_TIMEOUT", "0.2")
    cache = Cache(cache_dir)
    handle = Handle.parse("https://hub.example.com/m/1")
    with cache.lock(handle.cache_key, label="test", timeout=1):
        start = time.monotonic()
        with pytest.raises(tfhub.CacheLockTimeoutError, match="TFHUB_LOCK_TIMEOUT"):
            cache.get_or_install(handle, lambda d: InstallInfo(source="x"))
        assert time.monotonic() - start < 3


# -- remove and prune ---------------------------------------------------------------------


def test_remove_deletes_the_entry_and_its_partial(server, cache_dir):
    served = Served(server)
    cache = Cache(cache_dir)
    (cache_dir / "partial" / (served.handle.cache_key + ".part")).write_bytes(b"x")
    assert cache.remove(served.handle) is True
    assert names(cache_dir / "models") == []
    assert names(cache_dir / "partial") == []
    assert names(cache_dir / "staging") == []
    assert cache.remove(served.handle) is False
    tfhub.resolve(served.url)
    assert served.hits == 2


def test_remove_after_a_killed_remove(server, cache_dir):
    served = Served(server)
    key = served.handle.cache_key
    leftover = cache_dir / "staging" / f"{key}.{os.getpid()}.removed"
    (leftover / "model").mkdir(parents=True)
    (leftover / "model" / "saved_model.pb").write_bytes(b"old")
    assert Cache(cache_dir).remove(served.handle) is True
    assert names(cache_dir / "models") == []
    assert names(cache_dir / "staging") == []


def _leftover(cache_dir: Path, key: str, suffix: str) -> Path:
    path = cache_dir / "staging" / f"{key}.{suffix}"
    (path / "model").mkdir(parents=True)
    (path / "model" / "saved_model.pb").write_bytes(b"half")
    return path


def test_prune_removes_damage_and_leftovers_but_not_busy_ones(server, cache_dir):
    cache = Cache(cache_dir)
    intact, damaged, busy_damaged = Served(server, "1"), Served(server, "2"), Served(server, "3")
    Path(damaged.path, "saved_model.pb").unlink()
    Path(busy_damaged.path, "saved_model.pb").unlink()
    dead = Handle.parse(server.url("/m/dead")).cache_key  # a killed install's leftovers
    live = Handle.parse(server.url("/m/live")).cache_key  # an install running now
    assert "." in dead and "." in live  # keys of 127.0.0.1 URLs contain dots
    dead_staging = _leftover(cache_dir, dead, "4242.0a1b2c3d")
    live_staging = _leftover(cache_dir, live, "4343.0a1b2c3d")
    for key in (dead, live):
        (cache_dir / "partial" / f"{key}.part").write_bytes(b"x" * 100)
        (cache_dir / "partial" / f"{key}.part.json").write_text("{}")
    with (
        cache.lock(live, label="live", timeout=1),
        cache.lock(busy_damaged.handle.cache_key, label="busy", timeout=1),
    ):
        report = prune(cache)
    assert sorted(report.removed) == sorted(
        [
            str(damaged.entry),
            str(dead_staging),
            str(cache_dir / "partial" / f"{dead}.part"),
            str(cache_dir / "partial" / f"{dead}.part.json"),
        ]
    )
    assert sorted(report.skipped_busy) == sorted(
        [
            str(busy_damaged.entry),
            str(live_staging),
            str(cache_dir / "partial" / f"{live}.part"),
            str(cache_dir / "partial" / f"{live}.part.json"),
        ]
    )
    assert report.freed_bytes > 100
    assert names(cache_dir / "models") == sorted(
        [intact.handle.cache_key, busy_damaged.handle.cache_key]
    )
    assert live_staging.exists() and not dead_staging.exists()
    assert_model(tfhub.resolve(intact.url), intact.archive)
    assert intact.hits == 1


def test_prune_removes_stale_temp_files_of_killed_writers_only(server, cache_dir):
    """A writer killed before its rename (e.g. the load-time scan's ``scan.json``) leaves a
    ``.*.tmp`` file in the entry; prune removes it once it is old, never a fresh one."""
    served = Served(server)
    stale = served.entry / ".scan.abc123.tmp"
    fresh = served.entry / ".scan.def456.tmp"
    stale.write_text("{")
    fresh.write_text("{")
    an_hour_and_more = time.time() - maintenance.STALE_TEMP_SECONDS - 60
    os.utime(stale, (an_hour_and_more, an_hour_and_more))
    report = prune(Cache(cache_dir))
    assert report.removed == [str(stale)]
    assert not stale.exists() and fresh.exists()
    assert_model(tfhub.resolve(served.url), served.archive)
    assert served.hits == 1  # the entry itself stays


def test_prune_counts_a_doomed_entry_once_with_its_temp_file(server, cache_dir):
    """An entry removed whole is not listed again for the stale temp file inside it."""
    served = Served(server)
    Path(served.path, "saved_model.pb").unlink()
    stale = served.entry / ".scan.abc123.tmp"
    stale.write_text("12345")
    os.utime(stale, (0, 0))
    size = maintenance.disk_size(served.entry)
    report = prune(Cache(cache_dir), dry_run=True)
    assert report.removed == [str(served.entry)]
    assert report.freed_bytes == size


def test_prune_dry_run_removes_nothing(server, cache_dir):
    served = Served(server)
    Path(served.path, "saved_model.pb").unlink()
    report = prune(Cache(cache_dir), dry_run=True)
    assert report.removed == [str(served.entry)]
    assert served.entry.exists()


def test_prune_older_than(server, cache_dir):
    served = Served(server)
    assert prune(Cache(cache_dir), older_than_days=1).removed == []
    assert prune(Cache(cache_dir), older_than_days=0).removed == [str(served.entry)]
    assert names(cache_dir / "models") == []


def test_prune_keeps_an_entry_healed_since_it_was_listed(server, cache_dir, monkeypatch):
    """Prune decides under the entry's lock: an entry repaired meanwhile stays."""
    served = Served(server)
    Path(served.path, "saved_model.pb").unlink()
    cache = Cache(cache_dir)
    real_try_lock = Cache.try_lock

    def heal_then_lock(self, key):
        tfhub.resolve(served.url)  # another process repairs the entry first
        return real_try_lock(self, key)

    monkeypatch.setattr(Cache, "try_lock", heal_then_lock)
    report = prune(cache)
    assert report.removed == []
    assert_model(served.path, served.archive)
