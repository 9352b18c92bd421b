"""A converted TF1 Hub module used by other loaders: the original ``tensorflow_hub`` 0.16.1
(``hub.load``, ``hub.KerasLayer`` in ``tf_keras``, fine-tuned with ``fit``), Keras 3's
``TFSMLayer``, ``saved_model_cli`` (a TF1 session, as TF Serving loads it), and
``tfhub.KerasLayer`` giving the same outputs on the module and on its conversion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from tf1.hub_fixture import (
    WORDS,
    X,
    Y,
    dense_reference,
    sparse_tensor,
    words_inputs,
    words_reference,
)


@pytest.fixture(scope="module")
def converted(hub_module: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("convert_interop") / "tf2"
    assert tfhub.convert(hub_module, path).verified
    return path


def test_original_hub_load_runs_the_converted_model(original: ModuleType, converted: Path) -> None:
    model = original.load(str(converted))
    np.testing.assert_allclose(model(tf.constant(X)).numpy(), dense_reference(X), rtol=1e-6)
    words = model.signatures["words"](**words_inputs(WORDS))
    np.testing.assert_allclose(words["default"].numpy(), words_reference(WORDS))


def test_original_keras_layer_predicts_and_fine_tunes(
    original: ModuleType, converted: Path
) -> None:
    import tf_keras

    layer = original.KerasLayer(str(converted), trainable=True)
    model = tf_keras.Sequential([tf_keras.Input([3]), layer, tf_keras.layers.Dense(1)])
    model.compile(tf_keras.optimizers.SGD(learning_rate=0.05), "mse")
    assert len(model.losses) == 2  # the module's regularization losses
    hidden = tf_keras.Sequential([tf_keras.Input([3]), layer])
    np.testing.assert_allclose(hidden.predict(X, verbose=0), dense_reference(X), rtol=1e-6)
    before = model.evaluate(X, Y, verbose=0)
    model.fit(X, Y, epochs=30, batch_size=4, verbose=0)
    assert model.evaluate(X, Y, verbose=0) < before
    moving_mean = [w for w in layer.weights if "moving_mean" in w.name]
    assert not np.allclose(moving_mean[0].numpy(), 0.0)  # training=True reached the model


def test_tfhub_keras_layer_gives_the_same_on_module_and_conversion(
    hub_module: Path, converted: Path
) -> None:
    import tfhub.keras3

    def run(handle: Path, **kwargs: Any) -> np.ndarray:
        layer = tfhub.keras3.KerasLayer(str(handle), **kwargs)
        return np.asarray(layer(tf.constant(X)))

    np.testing.assert_array_equal(run(converted), run(hub_module))
    hidden = {"signature": "default", "output_key": "hidden"}
    np.testing.assert_array_equal(run(converted, **hidden), run(hub_module, **hidden))
    np.testing.assert_allclose(run(converted, **hidden), dense_reference(X), rtol=1e-6)


def test_keras3_tfsm_layer_calls_every_signature(converted: Path) -> None:
    import keras

    serve = keras.layers.TFSMLayer(str(converted))  # the `serve` endpoint: default
    serving = keras.layers.TFSMLayer(str(converted), call_endpoint="serving_default")
    for layer in (serve, serving):
        outputs = layer(X)
        assert sorted(outputs) == ["default", "hidden"]
        np.testing.assert_allclose(np.asarray(outputs["default"]), dense_reference(X), rtol=1e-6)
        names = {w.name for w in layer.weights}  # the module's variables, as Keras weights
        assert {"bn_moving_mean:0", "dense_bias:0", "dense_kernel:0"} <= names
    words = keras.layers.TFSMLayer(str(converted), call_endpoint="words")(sparse_tensor(WORDS))
    np.testing.assert_allclose(np.asarray(words["default"]), words_reference(WORDS))


@pytest.mark.slow
def test_saved_model_cli_runs_the_serving_signatures(converted: Path) -> None:
    """``saved_model_cli run`` loads the model in a TF1 session, as TF Serving does: the
    signatures, the variables and the vocabulary table all work there."""
    cli = Path(sys.executable).parent / "saved_model_cli"
    words = 'words_indices=[[0,0],[0,1],[1,0]];words_values=["a","c","zzz"];words_dense_shape=[2,2]'
    outputs = []
    for signature, inputs in (("serving_default", "x=[[1.0,2.0,3.0]]"), ("words", words)):
        proc = subprocess.run(
            [str(cli), "run", "--dir", str(converted), "--tag_set", "serve",
             "--signature_def", signature, "--input_exprs", inputs],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs.append(proc.stdout)
    assert "Result for output key default:\n[[4.1 4.3]]" in outputs[0]
    assert "Result for output key default:\n[[ 2.  1.]\n [-1. -1.]]" in outputs[1]
    assert "Result for output key ids_values:\n[0 2 3]" in outputs[1]
