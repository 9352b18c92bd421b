"""Serializing ``KerasLayer``: configs that rebuild the same layer, Keras 3 ``.keras`` files,
``tf_keras`` SavedModel / ``.h5`` / ``.keras`` files, and safe mode (a config names an external
model whose graph runs when called, so Keras' safe mode refuses to rebuild it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.models import KERNEL, reference_output

X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]], np.float32)
Y = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.0], [2.0, -1.0]], np.float32)
SAFE_MODE_REFUSAL = "Refusing to rebuild a tfhub.KerasLayer in (Keras )?safe mode"

pytestmark = pytest.mark.filterwarnings(
    # tf_keras.Model.save(...h5) recommends its native format; saving .h5 is what we test.
    "ignore:You are saving your model as an HDF5 file:UserWarning"
)


def _from_config(flavour: Any, config: dict[str, Any]) -> Any:
    if flavour.name == "keras3":
        return flavour.layer_class.from_config(config, safe_mode=False)
    return flavour.layer_class.from_config(config)


def _fine_tuned_model(flavour: Any, handle: Path) -> Any:
    """A model with a trainable KerasLayer after one fit: its weights differ from the
    handle's, so a reloaded model only matches if the weights were saved too."""
    k = flavour.keras
    layer = flavour.layer(handle, trainable=True, tags=["serve"], name="hub")
    model = k.Sequential([k.Input([3]), layer, k.layers.Dense(2, kernel_initializer="ones")])
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    model.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)
    assert not np.allclose(layer.resolved_object.variables[0].numpy(), KERNEL)
    return model


@pytest.mark.parametrize(
    "kwargs",
    [
        {"trainable": True, "tags": ["serve"], "output_shape": [2], "name": "hub"},
        {
            "signature": "serving_default",
            "signature_outputs_as_dict": True,
            "tags": {"serve"},
            "output_shape": {"output": [2], "hidden": [2]},
        },
        {"signature": "embed", "output_key": "embedding", "dtype": "float32"},
    ],
    ids=["call", "signature-as-dict", "signature-output-key"],
)
def test_get_config_and_from_config_keep_everything(
    flavour: Any, models: Any, kwargs: dict[str, Any]
) -> None:
    layer = flavour.layer(models.reusable, **kwargs)
    config = layer.get_config()
    json.dumps(config)  # a config must be plain JSON
    assert config["handle"] == str(models.reusable)
    assert config.get("tags") == (["serve"] if "tags" in kwargs else None)
    assert config["trainable"] is kwargs.get("trainable", False)
    for key in ("signature", "output_key", "signature_outputs_as_dict", "output_shape"):
        assert config.get(key) == kwargs.get(key), key
    rebuilt = _from_config(flavour, config)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    assert rebuilt.trainable is layer.trainable
    assert [w.name for w in rebuilt.trainable_weights] == [w.name for w in layer.trainable_weights]
    expected, got = layer(X), rebuilt(X)
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected)
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key])
    else:
        np.testing.assert_array_equal(got, expected)


def test_a_layer_from_a_loaded_object_has_no_config(flavour: Any, models: Any) -> None:
    import tfhub

    layer = flavour.layer_class(tfhub.load(str(models.reusable)))
    np.testing.assert_allclose(layer(X), reference_output(X), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="string handle"):
        layer.get_config()


def test_keras3_from_config_refuses_outside_unsafe_mode(models: Any) -> None:
    import keras

    from tfhub.tf.keras3_layer import Keras3Layer

    config = Keras3Layer(str(models.reusable)).get_config()
    with pytest.raises(ValueError, match=SAFE_MODE_REFUSAL):
        Keras3Layer.from_config(config)
    with pytest.raises(ValueError, match=SAFE_MODE_REFUSAL):
        keras.layers.deserialize(keras.layers.serialize(Keras3Layer(str(models.reusable))))


def test_keras3_model_saves_to_a_keras_file_and_loads_back(
    models: Any, tmp_path: Path, keras3_flavour: Any
) -> None:
    import keras

    from tfhub.tf.keras3_layer import Keras3Layer

    model = _fine_tuned_model(keras3_flavour, models.reusable)
    expected = model.predict(X, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    with pytest.raises(ValueError, match=SAFE_MODE_REFUSAL):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, safe_mode=False)
    layer = loaded.get_layer("hub")
    assert isinstance(layer, Keras3Layer) and layer.trainable
    assert layer.resolved_object is not model.get_layer("hub").resolved_object
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), expected)
    # the fine-tuned weights came from the file into the freshly loaded SavedModel
    np.testing.assert_array_equal(
        layer.resolved_object.variables[0].numpy(),
        model.get_layer("hub").resolved_object.variables[0].numpy(),
    )


@pytest.mark.parametrize("fmt", ["savedmodel", "h5"])
def test_tf_keras_model_saves_and_loads_back(
    models: Any, tmp_path: Path, fmt: str, tf_keras_flavour: Any
) -> None:
    import tf_keras

    from tfhub.tf.tf_keras_layer import TfKerasLayer

    model = _fine_tuned_model(tf_keras_flavour, models.reusable)
    expected = model.predict(X, verbose=0)
    path = tmp_path / ("model.h5" if fmt == "h5" else "saved_model")
    model.save(str(path))
    assert (path / "saved_model.pb").exists() if fmt == "savedmodel" else path.is_file()

    loaded = tf_keras.models.load_model(str(path))
    layer = loaded.get_layer("hub")
    assert isinstance(layer, TfKerasLayer) and layer.trainable
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), expected)
    np.testing.assert_array_equal(
        layer.resolved_object.variables[0].numpy(),
        model.get_layer("hub").resolved_object.variables[0].numpy(),
    )


def test_tf_keras_keras_file_respects_safe_mode(
    models: Any, tmp_path: Path, tf_keras_flavour: Any
) -> None:
    import tf_keras

    model = _fine_tuned_model(tf_keras_flavour, models.reusable)
    expected = model.predict(X, verbose=0)
    path = tmp_path / "model.keras"
    model.save(str(path))
    with pytest.raises(ValueError, match=SAFE_MODE_REFUSAL):
        tf_keras.models.load_model(str(path))
    loaded = tf_keras.models.load_model(str(path), safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), expected)
