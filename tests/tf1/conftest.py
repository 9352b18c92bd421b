"""The TF1 Hub fixture module (``hub_fixture``), exported once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tf1.hub_fixture import export_fixture


@pytest.fixture(scope="session")
def hub_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported fixture module (initial weights): two variants, two signatures."""
    root = tmp_path_factory.mktemp("tf1")
    return export_fixture(root / "module", root)
