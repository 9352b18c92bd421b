"""TF1 Hub modules written by ``tfhub.tf1`` in eager TF2: ``tfhub.load`` (the inference
variant unless ``tags`` say otherwise), its signatures (dense and sparse inputs, the
vocabulary asset), and ``KerasLayer(handle, signature=...)`` in Keras 3 and ``tf_keras``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from tf1.hub_fixture import VARIABLES, WORDS, X, dense_reference, words_inputs, words_reference


def test_load_gives_the_inference_variant(hub_module: Path) -> None:
    loaded = tfhub.load(str(hub_module))
    assert sorted(loaded.signatures) == ["default", "words"]
    assert sorted(v.name for v in loaded.variables) == VARIABLES
    outputs = loaded.signatures["default"](x=tf.constant(X))
    np.testing.assert_allclose(outputs["default"].numpy(), dense_reference(X), rtol=1e-6)
    result = loaded.signatures["words"](**words_inputs(WORDS))
    np.testing.assert_allclose(result["default"].numpy(), words_reference(WORDS))
    assert result["ids"].values.numpy().tolist() == [0, 2, 3, 1, 1, 0]


def test_load_with_tags_gives_the_train_variant(hub_module: Path) -> None:
    loaded = tfhub.load(str(hub_module), tags=["train"])
    outputs = loaded.signatures["default"](x=tf.constant(X))
    np.testing.assert_allclose(outputs["hidden"].numpy(), dense_reference(X), rtol=1e-6)
    assert not np.allclose(outputs["default"].numpy(), dense_reference(X))  # batch mean, dropout


@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
def test_keras_layer_runs_a_signature(hub_module: Path, flavour: str) -> None:
    if flavour == "keras3":
        import keras

        from tfhub.tf.keras3_layer import Keras3Layer as Layer
    else:
        import tf_keras as keras

        from tfhub.tf.tf_keras_layer import TfKerasLayer as Layer
    layer = Layer(str(hub_module), signature="default", output_key="default")
    model = keras.Sequential([keras.Input([3]), layer])
    np.testing.assert_allclose(model.predict(X, verbose=0), dense_reference(X), rtol=1e-6)


def test_a_module_without_its_checkpoint_is_a_format_error(
    hub_module: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(hub_module, tmp_path / "novars"))
    shutil.rmtree(copy / "variables")
    damaged = f"{copy} is damaged: saved_model.pb declares 4 variables but there is no checkpoint"
    for load in (
        lambda: tfhub.load(str(copy)),
        lambda: tfhub.load(str(copy), trainable=True),
        lambda: tfhub.KerasLayer(str(copy)),
        lambda: tfhub.KerasLayer(str(copy), trainable=True),
    ):
        with pytest.raises(tfhub.ModelFormatError) as info:
            load()
        assert str(info.value).startswith(damaged), str(info.value)
