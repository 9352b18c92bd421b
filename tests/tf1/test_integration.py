"""TF1 Hub modules through the public entry points: ``tfhub.load(h).trainable_variables``,
``tfhub.load(h, trainable=True)`` and ``KerasLayer(h, trainable=True)`` in both Kerases."""

from pathlib import Path

import numpy as np
import pytest

import tfhub
from tf1.hub_fixture import X, dense_reference


def test_load_trainable_variables(hub_module: Path) -> None:
    loaded = tfhub.load(str(hub_module))
    names = sorted(v.name for v in loaded.trainable_variables)
    assert names == ["dense/bias:0", "dense/kernel:0", "embeddings:0"]
    obj = tfhub.load(str(hub_module), trainable=True)
    assert obj.train_tags == frozenset({"train"})
    np.testing.assert_allclose(obj(X).numpy(), dense_reference(X), rtol=1e-6)


@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
def test_keras_layer_handle(hub_module: Path, tmp_path: Path, flavour: str) -> None:
    if flavour == "keras3":
        import keras

        from tfhub.keras3 import KerasLayer
    else:
        import tf_keras as keras

        from tfhub.tf_keras import KerasLayer
    layer = KerasLayer(str(hub_module), trainable=True)
    obj = layer.resolved_object
    assert type(obj).__name__ == "ReusableHubModule"
    model = keras.Sequential([keras.Input([3]), layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    assert len(model.losses) >= 1
    y = X[:, :1]
    before = model.evaluate(X, y, verbose=0)
    model.fit(X, y, epochs=30, verbose=0)
    assert model.evaluate(X, y, verbose=0) < before
    assert not np.allclose(obj.variable_map["bn/moving_mean"].numpy(), 0)
    pred = model.predict(X, verbose=0)
    # words signature through the layer, frozen path unchanged
    frozen = KerasLayer(str(hub_module), signature="default", output_key="hidden")
    np.testing.assert_allclose(frozen(X).numpy(), dense_reference(X), rtol=1e-6)
    if flavour == "keras3":
        path = str(tmp_path / "m.keras")
        model.save(path)
        back = keras.saving.load_model(path, safe_mode=False)
    else:
        path = str(tmp_path / "m.keras")
        model.save(path)
        back = keras.models.load_model(path, safe_mode=False)
    np.testing.assert_allclose(back.predict(X, verbose=0), pred, rtol=1e-5)
    kernel = back.layers[0].resolved_object.variable_map["dense/kernel"].numpy()
    np.testing.assert_allclose(kernel, obj.variable_map["dense/kernel"].numpy())
