"""Real TF2 SavedModels for the KerasLayer tests, built once per session, and the two Kerases
(Keras 3 and ``tf_keras``) as a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from support.models import save_counting_model, save_reusable_model


@dataclass(frozen=True)
class Models:
    reusable: Path  # the Reusable SavedModel of support.models
    frozen_stats: Path  # the same with momentum=1.0: its moving mean never changes
    counting: Path  # __call__(x) without training, counts its runs
    signatures_only: Path  # no __call__, only the signatures


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    root = tmp_path_factory.mktemp("models")
    return Models(
        reusable=save_reusable_model(root / "reusable"),
        frozen_stats=save_reusable_model(root / "frozen_stats", momentum=1.0),
        counting=save_counting_model(root / "counting"),
        signatures_only=save_reusable_model(root / "signatures_only", callable_root=False),
    )


@dataclass(frozen=True)
class Flavour:
    """One Keras: its module (``keras`` or ``tf_keras``) and tfhub's layer class for it."""

    name: str
    keras: ModuleType
    layer_class: type

    def layer(self, handle: Any, **kwargs: Any) -> Any:
        return self.layer_class(str(handle), **kwargs)

    def model(self, kind: str, layer: Any) -> Any:
        """A model made of ``layer`` alone, as ``sequential``, ``functional`` or
        ``subclassed`` model."""
        k = self.keras
        if kind == "sequential":
            return k.Sequential([k.Input([3]), layer])
        if kind == "functional":
            inputs = k.Input([3])
            return k.Model(inputs, layer(inputs))
        assert kind == "subclassed"

        class Wrapper(k.Model):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.hub = layer

            def call(self, inputs: Any, training: Any = None) -> Any:
                return self.hub(inputs, training=training)

        return Wrapper()


def _keras3() -> Flavour:
    import keras

    from tfhub.tf.keras3_layer import Keras3Layer

    return Flavour("keras3", keras, Keras3Layer)


def _tf_keras() -> Flavour:
    import tf_keras

    from tfhub.tf.tf_keras_layer import TfKerasLayer

    return Flavour("tf_keras", tf_keras, TfKerasLayer)


@pytest.fixture(params=["keras3", "tf_keras"])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    """Each test runs once with Keras 3 and once with ``tf_keras``."""
    return _keras3() if request.param == "keras3" else _tf_keras()


@pytest.fixture
def keras3_flavour() -> Flavour:
    return _keras3()


@pytest.fixture
def tf_keras_flavour() -> Flavour:
    return _tf_keras()
