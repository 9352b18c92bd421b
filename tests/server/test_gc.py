"""Cleaning up after failed publishes, on both back-ends: objects staged by a publish that
never committed (as a crash leaves them) are removed once older than the grace period;
young ones (maybe uploads in progress) and published versions are kept."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import httpx
import pytest

from server.conftest import Models
from server.hubtest import Hub
from tfhub.server.gc import collect_garbage
from tfhub.server.pipeline import PublishRequest, new_prefix, stage

pytestmark = pytest.mark.timeout(120)


def _stage_orphan(hub: Hub, models: Models, tmp_path: Path, age: dt.timedelta) -> str:
    """What a server that died between uploading and committing leaves in storage."""
    prefix = new_prefix(dt.datetime.now(dt.UTC) - age)
    work = tmp_path / prefix.replace("/", "_")
    work.mkdir()
    request = PublishRequest("gc", "orphan", None, str(models.archive("tf1")))
    stage(hub.hub, request, str(work), prefix)
    return prefix


def test_only_old_unreferenced_objects_are_removed(
    hub: Hub, models: Models, tmp_path: Path
) -> None:
    token = hub.token("gc")
    assert hub.publish(models.archive("tf2_v1"), "gc/kept", token).status_code == 201
    published = {f"objects/{p}" for p in hub.prefixes()}
    old = _stage_orphan(hub, models, tmp_path, dt.timedelta(days=2))
    young = _stage_orphan(hub, models, tmp_path, dt.timedelta(minutes=5))
    scratch = Path(hub.hub.settings.work_dir or "", "tfhub-upload-leftover")
    scratch.mkdir()
    os.utime(scratch, (time.time() - 3 * 86400,) * 2)

    dry = collect_garbage(hub.hub, dry_run=True)
    assert sorted(dry.removed) == sorted([old, str(scratch)])
    assert {f"objects/{p}" for p in hub.prefixes()} == published | {old, young}

    report = collect_garbage(hub.hub)
    assert sorted(report.removed) == sorted([old, str(scratch)])
    assert report.kept_young == [young]
    assert {f"objects/{p}" for p in hub.prefixes()} == published | {young}
    assert not scratch.exists()
    archive = httpx.get(f"{hub.url}/gc/kept/1?tf-hub-format=compressed")
    assert archive.status_code == 200 and archive.content[:2] == b"\x1f\x8b"

    assert collect_garbage(hub.hub, grace_seconds=0).removed == [young]
    assert {f"objects/{p}" for p in hub.prefixes()} == published
