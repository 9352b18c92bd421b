"""Interop with the original ``tensorflow_hub`` 0.16.1 (the optional ``reference`` extra,
which the test set-up always installs; without it these tests fail rather than skip): TF1 Hub
modules exported by tfhub load in its ``hub.load`` and its ``hub.KerasLayer(signature=...,
output_key=...)`` (tf_keras) and give the outputs tfhub gives, also after fine-tuning in TF2
and exporting the trained weights."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import tensorflow as tf

import tfhub
from tf1.hub_fixture import WORDS, X, dense_reference, sparse_tensor, words_inputs, words_reference


def test_original_hub_load_gives_tfhubs_outputs(original: ModuleType, hub_module: Path) -> None:
    theirs = original.load(str(hub_module))
    ours = tfhub.load(str(hub_module))
    assert sorted(theirs.signatures) == sorted(ours.signatures) == ["default", "words"]
    x = tf.constant(X)
    for key in ("default", "hidden"):
        got = theirs.signatures["default"](x=x)[key].numpy()
        np.testing.assert_array_equal(got, ours.signatures["default"](x=x)[key].numpy())
    np.testing.assert_allclose(
        theirs.signatures["default"](x=x)["default"].numpy(), dense_reference(X), rtol=1e-6
    )
    words = theirs.signatures["words"](**words_inputs(WORDS))
    np.testing.assert_array_equal(
        words["default"].numpy(), ours.signatures["words"](**words_inputs(WORDS))["default"].numpy()
    )
    np.testing.assert_allclose(words["default"].numpy(), words_reference(WORDS))


def test_original_keras_layer_gives_tfhubs_outputs(original: ModuleType, hub_module: Path) -> None:
    import tf_keras

    import tfhub.tf_keras

    theirs = original.KerasLayer(str(hub_module), signature="default", output_key="hidden")
    ours = tfhub.tf_keras.KerasLayer(str(hub_module), signature="default", output_key="hidden")
    models = [tf_keras.Sequential([tf_keras.Input([3]), layer]) for layer in (theirs, ours)]
    got, expected = (m.predict(X, verbose=0) for m in models)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, dense_reference(X), rtol=1e-6)


def test_a_module_fine_tuned_in_tf2_exports_for_the_original(
    original: ModuleType, hub_module: Path, tmp_path: Path
) -> None:
    from tfhub.tf1.reusable import load_reusable

    obj = load_reusable(hub_module)
    for variable in obj.trainable_variables:
        variable.assign(variable * 2.0)
    obj(X, training=True)  # the moving mean moves
    expected = obj(X, as_dict=True)
    obj.export(tmp_path / "tuned")
    theirs = original.load(str(tmp_path / "tuned")).signatures["default"](x=tf.constant(X))
    for key in ("default", "hidden"):
        np.testing.assert_allclose(theirs[key].numpy(), expected[key].numpy(), rtol=1e-6)
    reloaded = load_reusable(tmp_path / "tuned")
    for name, variable in obj.variable_map.items():
        np.testing.assert_array_equal(reloaded.variable_map[name].numpy(), variable.numpy())
    words = reloaded(sparse_tensor(WORDS), signature="words")
    np.testing.assert_allclose(words.numpy(), 2.0 * words_reference(WORDS))  # assets copied
