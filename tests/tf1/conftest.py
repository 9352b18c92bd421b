"""The TF1 Hub fixture module (``hub_fixture``), exported once per test session, the same
module as the original ``tensorflow_hub`` 0.15.0 wrote it (``data/original_0_15``), and the
original library itself (0.16.1) for the interop tests."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

import pytest

from tf1.hub_fixture import export_fixture


@pytest.fixture(scope="session")
def hub_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported fixture module (initial weights): two variants, two signatures."""
    root = tmp_path_factory.mktemp("tf1")
    return export_fixture(root / "module", root)


@pytest.fixture(scope="session")
def original_module() -> Path:
    """The fixture module written by the original library (``data/make_original_module.py``)."""
    return Path(__file__).resolve().parent / "data" / "original_0_15"


@pytest.fixture(scope="module")
def original() -> ModuleType:
    """The original ``tensorflow_hub`` (0.16.1, the ``reference`` extra)."""
    with warnings.catch_warnings():  # its import of pkg_resources warns
        warnings.simplefilter("ignore")
        import tensorflow_hub as hub
    assert hub.__version__ == "0.16.1"
    return hub
