"""The README's Python examples that are self-contained run as written (each in its own
process, paths under /tmp moved into the test's temporary directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks_of(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(section)
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n### ", start + 1)) if i != -1]
    return _BLOCK.findall(text[start : min(ends) if ends else None])


def _run(code: str, tmp_path: Path) -> str:
    code = code.replace("/tmp/", f"{tmp_path}/")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow
def test_reusable_saved_model_and_compatibility_mode_examples(tmp_path: Path) -> None:
    [create] = _blocks_of("### Reusable SavedModels")
    out = _run(create, tmp_path)
    assert f"{tmp_path}/encoder: meets the conventions" in out
    assert "encoder_plain: does not meet the conventions" in out
    load_and_run, fine_tune, create_in_compat = _blocks_of("### TF1 compatibility mode")
    assert _run(load_and_run, tmp_path).count("[") >= 2  # printed an (8, 2) array
    _run(fine_tune, tmp_path)
    assert "encoder_tf1: meets the conventions" in _run(create_in_compat, tmp_path)


@pytest.mark.slow
def test_tf1_hub_format_example(tmp_path: Path) -> None:
    [example] = _blocks_of("## The TF1 Hub format")
    out = _run(example, tmp_path)
    assert out.count("3.") >= 4  # [[3. 3.]] from the session, then from tfhub.load
    [fine_tune] = _blocks_of("### Fine-tuning a TF1 Hub module in TF2")
    _run(fine_tune, tmp_path)
    assert (tmp_path / "tf1_module_tuned" / "tfhub_module.pb").is_file()
    assert (tmp_path / "tuned.keras").is_file()
