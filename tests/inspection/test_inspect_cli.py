"""``tfhub inspect HANDLE [--json]``: the readable report, the JSON report, errors as one
line, URL handles, and a real ``python -m tfhub inspect`` process that never imports
TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import tfhub
from support.server import HubTestServer, Route
from tfhub.cli.main import cli
from tfhub.core.pack import pack_archive
from tfhub.inspection import inspect_path
from tfhub.inspection.render import render


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_human_report_of_a_tf1_hub_module(models: Any) -> None:
    code, out, err = run("inspect", str(models.hub_module))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["model", str(models.hub_module)]
    assert "TF1 Hub module" in out
    assert "graph variant {}  (inference)" in lines and "graph variant {train}" in lines
    words = lines.index("  signature words")
    assert lines[words + 1].split() == ["in", "words", "string", "[?,", "?]", "sparse"]
    assert any(line.split()[:2] == ["variables", "4"] for line in lines)
    assert "vocab.txt (6 B)" in out and "fixture_info" in out
    table = lines.index(next(line for line in lines if line.startswith("compatibility")))
    assert lines[table + 1].split() == ["load", "yes", "yes", "yes"]
    call = f"layer = tfhub.KerasLayer({str(models.hub_module)!r}, trainable=True)"
    assert call in " ".join(out.split())  # calls may wrap (inside their parentheses)
    assert all(_fits(line) for line in lines), max(lines, key=len)


def _fits(line: str) -> bool:
    """At most 100 columns, unless one word too long to fit runs past them (words are never
    split: paths, URLs and calls must paste)."""
    return len(line) <= 100 or line.index(line.split()[-1]) <= 14


def test_human_report_of_a_keras3_export(models: Any) -> None:
    code, out, _ = run("inspect", str(models.keras3_export))
    assert code == 0
    assert "Keras-saved SavedModel (Keras 3 model.export()" in out
    assert "Reusable SavedModel: does not meet the conventions" in out
    fine_tune = next(line for line in out.splitlines() if line.startswith("  fine-tune  "))
    assert fine_tune.split() == ["fine-tune", "no", "no", "no"]


def test_json_report(models: Any, schema_check: Callable[..., Any]) -> None:
    code, out, _ = run("inspect", str(models.reusable), "--json")
    assert code == 0
    doc = json.loads(out)
    assert schema_check(doc) == []
    assert doc == tfhub.inspect(str(models.reusable)).to_dict()
    assert doc["format"] == "tf2-saved-model" and doc["reusable"]["call_accepts_training"]


def test_errors_are_one_line(tmp_path: Path) -> None:
    code, out, err = run("inspect", str(tmp_path / "missing"))
    assert code == 1 and out == ""
    assert err.startswith("error: No model at ") and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    code, _, err = run("inspect", str(tmp_path / "empty"))
    assert code == 1 and err.startswith("error: Not a model:") and "Traceback" not in err


def test_url_handle(models: Any, server: HubTestServer, tmp_path: Path) -> None:
    archive = pack_archive(models.tf1_saved_model, tmp_path / "m.tar.gz")
    server.add("/models/plain/2", Route(archive.read_bytes()))
    url = server.url("/models/plain/2")
    code, out, _ = run("inspect", url, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["handle"] == url and doc["format"] == "tf1-saved-model"
    assert url in doc["compatibility"]["load"]["keras3"]["call"]
    code, out, _ = run("inspect", url)
    assert code == 0 and f"handle        {url}" in out


def test_a_real_process_never_imports_tensorflow(
    models: Any, tf_free: Callable[[str], tuple[str, set[str]]]
) -> None:
    code = (
        "from tfhub.cli import main\n"
        "try:\n"
        f"    main(['inspect', {str(models.hub_module)!r}, '--json'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
    )
    stdout, modules = tf_free(code)  # checks that no TensorFlow, Keras, tf_keras was imported
    assert json.loads(stdout)["format"] == "tf1-hub-module"
    assert "tfhub.inspection.render" not in modules  # --json does not render
    assert "tfhub.inspection.read" in modules
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    out = subprocess.run(
        [sys.executable, "-m", "tfhub", "inspect", str(models.reusable)],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    assert "Reusable SavedModel: meets the conventions" in out


def test_inspecting_a_local_model_takes_milliseconds(models: Any) -> None:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        inspect_path(models.hub_module)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[2] < 0.25, timings  # the benchmark measures it against TF's CLI


def test_human_report_shows_op_libraries_and_risky_ops(risky: Any) -> None:
    code, out, _ = run("inspect", str(risky.write_file))
    assert code == 0
    lines = out.splitlines()
    assert next(line for line in lines if line.startswith("risky ops")).split()[2:4] == [
        "1",
        "found",
    ]
    assert any(line.split()[:2] == ["HIGH", "WriteFile"] for line in lines)
    assert any("high-severity risky op(s) (WriteFile)" in line for line in lines)
    code, out, _ = run("inspect", str(risky.text))
    assert code == 0
    libraries = next(line for line in out.splitlines() if line.startswith("op libraries"))
    assert libraries.split()[2] == "tensorflow-text:"


def test_long_handles_and_calls_are_never_split(models: Any) -> None:
    """A URL longer than a line stays whole in every line that names it, so each proposed
    call still pastes (textwrap used to cut it at the right margin)."""
    url = "https://models.example.com/" + "very-long-publisher-name/" * 4 + "encoder/1"
    report = inspect_path(models.reusable, handle=url)
    out = render(report)
    lines = out.splitlines()
    assert len(url) > 100 and all(_fits(line) for line in lines)
    named = [line for line in lines if "models.example.com" in line]
    assert len(named) >= 7 and all(url in line for line in named)  # handle + 6 calls


def test_a_damaged_model_says_so_and_nothing_loads(models: Any, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(models.reusable, tmp_path / "novars"))
    shutil.rmtree(copy / "variables")
    code, out, _ = run("inspect", str(copy))
    assert code == 0
    lines = out.splitlines()
    assert lines[2].startswith("problem       The model is damaged: saved_model.pb declares 4")
    assert "the variables/ directory is missing" in " ".join(out.split())
    assert next(x for x in lines if x.startswith("variables")).endswith("; no checkpoint files")
    table = lines.index(next(line for line in lines if line.startswith("compatibility")))
    assert lines[table + 1].split() == ["load", "no", "no", "no"]
    assert lines[table + 2].split() == ["fine-tune", "no", "no", "no"]
    assert lines[table + 3].split() == ["create", "yes", "yes", "yes"]
    assert "      (the model is damaged and cannot load as it is: see the notes)" in lines
