"""The load-time scan: models from a real HTTP server on 127.0.0.1 are scanned before
``tfhub.load`` / ``KerasLayer`` load them (``TFHUB_SCAN`` = warn, block, off), the result is
cached beside the manifest, and local models are never scanned."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
import tensorflow as tf

import tfhub
import tfhub.inspection.load_scan as load_scan
from support import risky_models as rm
from support.archives import model_archive
from support.models import reference_output, save_reusable_model
from support.server import HubTestServer, Route
from tfhub.config import Settings
from tfhub.core.pack import pack_archive
from tfhub.errors import ConfigError, ModelFormatError, UnsafeModelError
from tfhub.inspection.scan import RULES_VERSION


@dataclass(frozen=True)
class Served:
    risky: Path  # the WriteFile model's directory
    risky_archive: bytes
    clean: Path
    clean_archive: bytes
    target: Path  # where the risky model writes when called with x > 0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("load_scan")
    risky = rm.save_write_file_model(root / "risky", root / "planted.txt")
    clean = save_reusable_model(root / "clean")
    return Served(
        risky=risky,
        risky_archive=pack_archive(risky, root / "risky.tar.gz").read_bytes(),
        clean=clean,
        clean_archive=pack_archive(clean, root / "clean.tar.gz").read_bytes(),
        target=root / "planted.txt",
    )


@pytest.fixture
def risky_url(served: Served, server: HubTestServer) -> str:
    server.add("/models/risky/1", Route(served.risky_archive))
    return server.url("/models/risky/1")


def _entry(cache_dir: Path) -> Path:
    [entry] = (cache_dir / "models").iterdir()
    return entry


def test_block_refuses_high_findings(
    risky_url: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFHUB_SCAN", "block")
    with pytest.raises(UnsafeModelError) as caught:
        tfhub.load(risky_url)
    message = str(caught.value)
    assert message.startswith(f"Refusing to load {risky_url}: the risky-op scan found 1 high")
    assert "HIGH WriteFile at meta_graph[serve]/function '__inference___call___" in message
    assert "attr 'then_branch'" in message and "TFHUB_SCAN=warn" in message
    assert (_entry(cache_dir) / "scan.json").is_file()  # downloaded and scanned, not loaded
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        tfhub.KerasLayer(risky_url)  # the layer goes through the same load


def test_warn_logs_and_loads(
    risky_url: str, served: Served, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tfhub"):
        model = tfhub.load(risky_url)
    [record] = [r for r in caplog.records if "Risky operations" in r.getMessage()]
    assert record.levelno == logging.WARNING and record.name == "tfhub"
    assert f"Risky operations in {risky_url}" in record.getMessage()
    assert "HIGH WriteFile at " in record.getMessage()
    assert float(model(tf.constant(-1.0))) == -2.0
    assert not served.target.exists()  # loading ran nothing
    entry = _entry(cache_dir)
    assert sorted(p.name for p in entry.iterdir()) == [
        "COMPLETE",
        "manifest.json",
        "model",
        "scan.json",
    ]
    assert not (entry / "model" / "scan.json").exists()
    doc = json.loads((entry / "scan.json").read_text())
    assert doc["rules_version"] == RULES_VERSION
    assert [f["op"] for f in doc["result"]["findings"]] == ["WriteFile"]


def test_off_does_not_scan(
    risky_url: str,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TFHUB_SCAN", "off")
    with caplog.at_level(logging.INFO, logger="tfhub"):
        model = tfhub.load(risky_url)
    assert float(model(tf.constant(0.0))) == -1.0
    assert not [r for r in caplog.records if "operations" in r.getMessage()]
    assert not (_entry(cache_dir) / "scan.json").exists()


def test_a_second_load_reads_the_cached_scan(
    risky_url: str,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tfhub.load(risky_url)
    scan_json = _entry(cache_dir) / "scan.json"
    written = scan_json.stat().st_mtime_ns

    def no_rescan(path: object) -> None:
        raise AssertionError(f"scanned {path} again")

    monkeypatch.setattr(load_scan, "scan_model", no_rescan)
    monkeypatch.setenv("TFHUB_SCAN", "block")
    with pytest.raises(UnsafeModelError, match="WriteFile"):  # the cached findings still count
        tfhub.load(risky_url)
    monkeypatch.setenv("TFHUB_SCAN", "warn")
    with caplog.at_level(logging.WARNING, logger="tfhub"):
        tfhub.load(risky_url)
    assert any("HIGH WriteFile" in r.getMessage() for r in caplog.records)
    assert scan_json.stat().st_mtime_ns == written


def test_new_rules_or_a_changed_model_rescan(risky_url: str, cache_dir: Path) -> None:
    tfhub.load(risky_url)
    scan_json = _entry(cache_dir) / "scan.json"
    doc = json.loads(scan_json.read_text())
    no_findings = {**doc["result"], "findings": []}  # valid, but from older rules
    stale = {**doc, "key": [RULES_VERSION - 1, *doc["key"][1:]], "result": no_findings}
    scan_json.write_text(json.dumps(stale))
    tfhub.load(risky_url)
    assert json.loads(scan_json.read_text()) == doc
    scan_json.write_text("{not json")
    tfhub.load(risky_url)
    assert json.loads(scan_json.read_text()) == doc


def test_a_clean_remote_model_loads_in_block_mode(
    served: Served, server: HubTestServer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setenv("TFHUB_SCAN", "block")
    server.add("/models/clean/1", Route(served.clean_archive))
    x = np.ones([2, 3], np.float32)
    model = tfhub.load(server.url("/models/clean/1"))
    np.testing.assert_allclose(model(x), reference_output(x), rtol=1e-6)
    doc = json.loads((_entry(cache_dir) / "scan.json").read_text())
    assert doc["result"]["findings"] == [] and doc["result"]["nodes_scanned"] > 0


def test_local_models_are_not_scanned(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scan(path: object) -> None:
        raise AssertionError(f"scanned {path}")

    monkeypatch.setattr(load_scan, "scan_model", no_scan)
    monkeypatch.setenv("TFHUB_SCAN", "block")
    assert float(tfhub.load(str(served.risky))(tf.constant(-2.0))) == -3.0
    archive = tmp_path / "risky.tar.gz"
    archive.write_bytes(served.risky_archive)
    assert float(tfhub.load(str(archive))(tf.constant(-2.0))) == -3.0


def test_a_model_read_in_place_is_scanned_without_caching(
    served: Served, server: HubTestServer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "UNCOMPRESSED")
    monkeypatch.setenv("TFHUB_SCAN", "block")
    server.add("/models/risky/1", Route(status=303, redirect=served.risky.as_uri()))
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        tfhub.load(server.url("/models/risky/1"))
    assert not (served.risky / "scan.json").exists()
    assert not (cache_dir / "models").exists()


def test_a_bad_setting_is_a_clear_error(risky_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFHUB_SCAN", "maybe")
    with pytest.raises(
        ConfigError, match="TFHUB_SCAN='maybe' is not valid; use warn, block or off"
    ):
        tfhub.load(risky_url)


def test_the_setting_is_read_at_call_time() -> None:
    assert Settings.from_env({}).scan == "warn"
    assert Settings.from_env({"TFHUB_SCAN": " BLOCK "}).scan == "block"
    assert Settings.from_env({"TFHUB_SCAN": "off"}).scan == "off"


def test_a_model_that_cannot_be_scanned(
    server: HubTestServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server.add("/models/damaged/1", Route(model_archive()))  # saved_model.pb is not protobuf
    url = server.url("/models/damaged/1")
    monkeypatch.setenv("TFHUB_SCAN", "block")
    with pytest.raises(ModelFormatError, match=r"cannot be scanned .* TFHUB_SCAN=block refuses"):
        tfhub.load(url)
    monkeypatch.setenv("TFHUB_SCAN", "warn")
    with caplog.at_level(logging.WARNING, logger="tfhub"), pytest.raises(ModelFormatError):
        tfhub.load(url)  # TensorFlow cannot load it either
    assert any(f"Could not scan {url}" in r.getMessage() for r in caplog.records)


def test_the_tf1_api_scans_remote_modules_too(
    tmp_path: Path, server: HubTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tfhub.tf1 as hub

    def module_fn() -> None:
        x = tf.compat.v1.placeholder(tf.string, [])
        write = tf.io.write_file(str(tmp_path / "planted.txt"), x)
        with tf.control_dependencies([write]):
            hub.add_signature(inputs=x, outputs=tf.identity(x))

    with tf.Graph().as_default():
        module = hub.Module(hub.create_module_spec(module_fn))
        with tf.compat.v1.Session() as session:
            module.export(str(tmp_path / "m"), session)
    archive = pack_archive(tmp_path / "m", tmp_path / "m.tar.gz").read_bytes()
    server.add("/models/tf1-risky/1", Route(archive))
    url = server.url("/models/tf1-risky/1")
    monkeypatch.setenv("TFHUB_SCAN", "block")
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        tfhub.load_module_spec(url)
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        tfhub.load(url)
