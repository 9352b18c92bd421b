"""``KerasLayer`` on a real reusable TF2 SavedModel, in Keras 3 and in ``tf_keras``: models of
every kind, fit / evaluate / predict, shared weights, moving statistics, regularization
losses, ``training``, signatures and their errors, output shapes, symbolic building and the
``tfhub.KerasLayer`` factory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from support.models import COUNTING_KERNEL, KERNEL, L2, MOMENTUM, reference_output
from tfhub.tf.layer_core import HubCallable

X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]], np.float32)
Y = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.0], [2.0, -1.0]], np.float32)
LR = 0.1
KINDS = ["sequential", "functional", "subclassed"]
REPO = Path(__file__).resolve().parents[2]


def _values(variables: Any) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def _one_sgd_step_reference(handle: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """What one full-batch SGD step on MSE + the model's regularization loss must give
    (kernel, bias) and the moving mean after it, computed on the bare loaded model."""
    obj = tf.saved_model.load(str(handle))
    with tf.GradientTape() as tape:
        out = obj(tf.constant(X), training=True)
        loss = tf.reduce_mean(tf.square(out - Y)) + obj.regularization_losses[0]()
    grads = tape.gradient(loss, obj.trainable_variables)
    new = [v.numpy() - LR * g.numpy() for v, g in zip(obj.trainable_variables, grads, strict=True)]
    return new, obj.variables[2].numpy()


def _compile(flavour: Any, model: Any) -> Any:
    model.compile(optimizer=flavour.keras.optimizers.SGD(LR), loss="mse")
    return model


# -- models, fit / evaluate / predict ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_layer_gives_the_saved_outputs_in_every_kind_of_model(
    flavour: Any, models: Any, kind: str
) -> None:
    layer = flavour.layer(models.reusable)
    model = _compile(flavour, flavour.model(kind, layer))
    expected = reference_output(X)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model(X), expected, rtol=1e-6)
    assert model.evaluate(X, expected, verbose=0) == pytest.approx(0.0, abs=1e-10)
    assert model.evaluate(X, Y, verbose=0) == pytest.approx(np.mean((expected - Y) ** 2))


@pytest.mark.parametrize("kind", KINDS)
def test_fine_tuning_in_every_kind_of_model_trains_the_loaded_variables(
    flavour: Any, models: Any, kind: str
) -> None:
    layer = flavour.layer(models.reusable, trainable=True)
    model = _compile(flavour, flavour.model(kind, layer))
    model.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)

    (kernel, bias), moving_mean = _one_sgd_step_reference(models.reusable)
    obj = layer.resolved_object
    assert not np.allclose(kernel, KERNEL)  # the step is not a no-op
    np.testing.assert_allclose(obj.variables[0].numpy(), kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obj.variables[1].numpy(), bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obj.variables[2].numpy(), moving_mean, rtol=1e-5, atol=1e-6)
    # predict uses the fine-tuned weights and the updated moving mean, in inference mode
    hidden = np.maximum(X @ kernel + bias, 0)
    np.testing.assert_allclose(
        model.predict(X, verbose=0), hidden - moving_mean, rtol=1e-5, atol=1e-6
    )


def test_weights_are_the_saved_models_variables_without_copies(flavour: Any, models: Any) -> None:
    layer = flavour.layer(models.reusable, trainable=True)
    obj = layer.resolved_object
    assert [w.name.split(":")[0] for w in layer.weights] == ["kernel", "bias", "moving_mean"]
    assert [w.name.split(":")[0] for w in layer.trainable_weights] == ["kernel", "bias"]
    assert [w.name.split(":")[0] for w in layer.non_trainable_weights] == ["moving_mean"]
    for weight, variable in zip(layer.weights, obj.variables, strict=True):
        stored = weight.value if flavour.name == "keras3" else weight
        assert stored is variable
    layer.weights[1].assign(np.array([5.0, 6.0], np.float32))
    np.testing.assert_array_equal(obj.variables[1].numpy(), [5.0, 6.0])
    obj.variables[0].assign(np.zeros_like(KERNEL))
    np.testing.assert_array_equal(layer.weights[0].numpy(), np.zeros_like(KERNEL))


def test_a_frozen_layer_has_no_trainable_weights_and_does_not_change(
    flavour: Any, models: Any
) -> None:
    k = flavour.keras
    layer = flavour.layer(models.reusable)
    head = k.layers.Dense(1, kernel_initializer="ones")
    model = _compile(flavour, k.Sequential([k.Input([3]), layer, head]))
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 3
    assert len(model.trainable_weights) == 2  # the head's kernel and bias only
    before = _values(layer.resolved_object.variables)
    model.fit(X, Y[:, :1], batch_size=2, epochs=2, verbose=0)
    for now, then in zip(_values(layer.resolved_object.variables), before, strict=True):
        np.testing.assert_array_equal(now, then)  # incl. the moving mean: fit ran frozen
    assert not np.allclose(head.kernel.numpy(), 1.0)  # the rest of the model did train
    assert model.losses == []


def test_moving_mean_updates_only_when_trainable_and_training(flavour: Any, models: Any) -> None:
    frozen = flavour.layer(models.reusable)
    frozen(X, training=True)
    np.testing.assert_array_equal(frozen.resolved_object.variables[2].numpy(), [0.0, 0.0])

    layer = flavour.layer(models.reusable, trainable=True)
    moving_mean = layer.resolved_object.variables[2]
    model = _compile(flavour, flavour.model("sequential", layer))
    model.predict(X, verbose=0)
    model.evaluate(X, Y, verbose=0)
    layer(X)
    layer(X, training=False)
    np.testing.assert_array_equal(moving_mean.numpy(), [0.0, 0.0])
    layer(X, training=True)
    expected = (1 - MOMENTUM) * np.maximum(X @ KERNEL + layer.weights[1].numpy(), 0).mean(0)
    np.testing.assert_allclose(moving_mean.numpy(), expected, rtol=1e-6)


def test_regularization_loss_is_in_model_losses_only_when_trainable(
    flavour: Any, models: Any
) -> None:
    layer = flavour.layer(models.reusable, trainable=True)
    model = flavour.model("functional", layer)
    model(X)
    expected = L2 * np.sum(KERNEL**2)
    assert [float(loss) for loss in model.losses] == pytest.approx([expected])
    layer.resolved_object.variables[0].assign(2 * KERNEL)  # always the current value
    model(X)
    assert [float(loss) for loss in model.losses] == pytest.approx([4 * expected])

    layer.trainable = False
    model(X)
    assert model.losses == [] and layer.trainable_weights == []
    layer.trainable = True
    assert len(layer.trainable_weights) == 2

    frozen_model = flavour.model("sequential", flavour.layer(models.reusable))
    frozen_model(X)
    assert frozen_model.losses == []


def test_training_is_passed_only_to_a_call_that_accepts_it(flavour: Any, models: Any) -> None:
    assert HubCallable(str(models.reusable)).accepts_training
    counting = HubCallable(str(models.counting))
    assert not counting.accepts_training

    layer = flavour.layer(models.counting, trainable=True)
    model = _compile(flavour, flavour.model("sequential", layer))
    model.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)  # training=True
    obj = layer.resolved_object
    assert int(obj.variables[1].numpy()) >= 1  # the model ran, without a training argument
    grad = 2 * X.T @ (X @ COUNTING_KERNEL - Y) / Y.size
    np.testing.assert_allclose(obj.variables[0].numpy(), COUNTING_KERNEL - LR * grad, rtol=1e-5)
    np.testing.assert_allclose(model.predict(X, verbose=0), X @ obj.variables[0].numpy(), rtol=1e-5)


# -- signature=, output_key=, signature_outputs_as_dict= ---------------------------------


def test_signature_with_output_key_or_all_outputs_as_dict(flavour: Any, models: Any) -> None:
    k = flavour.keras
    expected = reference_output(X)
    layer = flavour.layer(models.reusable, signature="serving_default", output_key="output")
    np.testing.assert_allclose(k.Sequential([k.Input([3]), layer]).predict(X, verbose=0), expected)
    embed = flavour.layer(models.signatures_only, signature="embed", output_key="embedding")
    np.testing.assert_allclose(embed(X), X @ KERNEL, rtol=1e-6)

    as_dict = flavour.layer(
        models.reusable, signature="serving_default", signature_outputs_as_dict=True
    )
    inputs = k.Input([3])
    outputs = as_dict(inputs)
    assert sorted(outputs) == ["hidden", "output"]
    result = k.Model(inputs, outputs).predict(X, verbose=0)
    np.testing.assert_allclose(result["output"], expected, rtol=1e-6)
    np.testing.assert_allclose(result["hidden"], np.maximum(X @ KERNEL + [0.1, -0.2], 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signature": "nope", "output_key": "x"}, r"nope.*Available: embed, serving_default"),
        ({"signature": "embed"}, "either output_key or signature_outputs_as_dict"),
        (
            {"signature": "embed", "output_key": "embedding", "signature_outputs_as_dict": True},
            "either output_key or signature_outputs_as_dict",
        ),
        ({"signature_outputs_as_dict": True}, "only valid with a signature"),
    ],
)
def test_bad_signature_arguments_are_refused_when_building(
    flavour: Any, models: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(tfhub.LayerConfigError, match=message):  # also a ValueError
        flavour.layer(models.reusable, **kwargs)


def test_layer_config_error_is_in_the_one_tree_and_keeps_its_old_path() -> None:
    from tfhub.tf import layer_core

    assert layer_core.LayerConfigError is tfhub.LayerConfigError is tfhub.errors.LayerConfigError
    assert issubclass(tfhub.LayerConfigError, tfhub.HubError)
    assert issubclass(tfhub.LayerConfigError, ValueError)


def test_a_model_without_call_needs_a_signature_and_lists_them(flavour: Any, models: Any) -> None:
    with pytest.raises(ValueError, match=r"signature=.*available: embed, serving_default"):
        flavour.layer(models.signatures_only)


def test_an_unknown_output_key_lists_the_outputs(flavour: Any, models: Any) -> None:
    with pytest.raises(ValueError, match=r"No output 'nope'.*Available: hidden, output"):
        flavour.layer(models.reusable, signature="serving_default", output_key="nope")


def test_output_key_needs_a_dict_output(flavour: Any, models: Any) -> None:
    layer = flavour.layer(models.reusable, output_key="output")  # __call__ returns a tensor
    with pytest.raises(ValueError, match="output_key='output' needs a dict output"):
        layer(X)
    with pytest.raises(ValueError, match="output_key='output' needs a dict output"):
        layer(flavour.keras.Input([3]))


def test_trainable_with_a_signature_is_refused(flavour: Any, models: Any) -> None:
    with pytest.raises(ValueError, match="trainable=True is unsupported when calling signature"):
        layer = flavour.layer(
            models.reusable, trainable=True, signature="embed", output_key="embedding"
        )
        layer(X)
    layer = flavour.layer(models.reusable, signature="embed", output_key="embedding")
    layer.trainable = True  # public and mutable: checked again when called
    with pytest.raises(ValueError, match="Call the model's __call__"):
        layer(X)


# -- shapes and symbolic calls --------------------------------------------------------------


def test_output_shape_and_compute_output_shape(flavour: Any, models: Any) -> None:
    k = flavour.keras
    plain = flavour.layer(models.reusable)
    shaped = flavour.layer(models.reusable, output_shape=[2])
    for layer in (plain, shaped):
        assert tuple(layer.compute_output_shape((None, 3))) == (None, 2)
        assert tuple(layer.compute_output_shape((7, 3))) == (7, 2)
    assert tuple(k.Sequential([k.Input([3]), shaped]).output_shape) == (None, 2)

    as_dict = flavour.layer(
        models.reusable,
        signature="serving_default",
        signature_outputs_as_dict=True,
        output_shape={"output": [2], "hidden": [2]},
    )
    shapes = as_dict.compute_output_shape((5, 3))
    assert {key: tuple(shape) for key, shape in shapes.items()} == {
        "output": (5, 2),
        "hidden": (5, 2),
    }
    outputs = as_dict(k.Input([3]))
    assert {key: tuple(t.shape) for key, t in outputs.items()} == {
        "output": (None, 2),
        "hidden": (None, 2),
    }


def test_output_shape_is_set_on_the_outputs(flavour: Any, models: Any) -> None:
    k = flavour.keras
    # The embed signature returns (None, 2); output_shape can only make it more precise.
    layer = flavour.layer(
        models.reusable, signature="embed", output_key="embedding", output_shape=[2]
    )
    assert tuple(layer(k.Input([3])).shape) == (None, 2)
    wrong = flavour.layer(
        models.reusable, signature="embed", output_key="embedding", output_shape=[5]
    )
    with pytest.raises(ValueError, match=r"output_shape=\[5\] does not fit.*\(None, 2\)"):
        wrong(k.Input([3]))


def test_a_symbolic_call_builds_the_model_without_running_it(flavour: Any, models: Any) -> None:
    k = flavour.keras
    layer = flavour.layer(models.counting, trainable=True)
    calls = layer.resolved_object.variables[1]
    inputs = k.Input([3])
    outputs = layer(inputs)
    model = k.Model(inputs, outputs)
    layer.compute_output_shape((None, 3))
    assert tuple(outputs.shape) == (None, 2)
    assert int(calls.numpy()) == 0
    np.testing.assert_allclose(model.predict(X, verbose=0), X @ COUNTING_KERNEL, rtol=1e-6)
    assert int(calls.numpy()) >= 1  # the counter does count real runs


# -- the tfhub.KerasLayer factory ----------------------------------------------------------


def test_tfhub_keras_layer_is_keras3_by_default(
    models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras
    import tf_keras

    import tfhub.keras3
    import tfhub.tf_keras
    from tfhub.tf.keras3_layer import Keras3Layer
    from tfhub.tf.tf_keras_layer import TfKerasLayer

    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    layer = tfhub.KerasLayer(str(models.reusable))
    assert type(layer) is Keras3Layer and isinstance(layer, keras.Layer)
    assert isinstance(layer, tfhub.KerasLayer)
    assert isinstance(tfhub.keras3.KerasLayer(str(models.reusable)), tfhub.KerasLayer)
    legacy = tfhub.tf_keras.KerasLayer(str(models.reusable))
    assert type(legacy) is TfKerasLayer and isinstance(legacy, tf_keras.layers.Layer)
    assert isinstance(legacy, tfhub.KerasLayer)
    assert not isinstance(keras.layers.Dense(1), tfhub.KerasLayer)
    np.testing.assert_allclose(layer(X), reference_output(X), rtol=1e-6)


def test_tfhub_keras_layer_is_tf_keras_with_tf_use_legacy_keras(models: Any) -> None:
    script = textwrap.dedent(
        f"""
        import numpy as np, tensorflow as tf, tf_keras, tfhub
        from tfhub.tf.tf_keras_layer import TfKerasLayer
        layer = tfhub.KerasLayer({str(models.reusable)!r}, trainable=True)
        assert type(layer) is TfKerasLayer, type(layer)
        assert isinstance(layer, tfhub.KerasLayer)
        assert tf.keras.layers.Layer is tf_keras.layers.Layer  # tf.keras is tf_keras now
        model = tf.keras.Sequential([tf.keras.Input([3]), layer])
        print(model.predict(np.array([[1.0, 2.0, 3.0]], np.float32), verbose=0).tolist())
        """
    )
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    np.testing.assert_allclose(eval(last), reference_output(X[:1]), rtol=1e-6)
