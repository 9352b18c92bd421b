"""Fine-tuning TF1 Hub modules in TF2 (beyond the original): ``load_reusable`` gives a
``tf.Module`` over one shared set of variables that runs the ``train`` variant (with its
update ops) when ``training=True`` and the inference variant otherwise; trained with
``GradientTape``, in Keras 3 and in ``tf_keras``; the original library's module too; and
modules exported by tfhub used by the original ``tensorflow_hub`` 0.16.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from tf1.hub_fixture import (
    EMBEDDINGS,
    KERNEL,
    MOMENTUM,
    REGULARIZATION,
    TRAINABLE_VARIABLES,
    VARIABLES,
    WORDS,
    X,
    Y,
    batch_mean,
    dense_reference,
    export_module,
    sparse_tensor,
    sparse_words,
    words_reference,
)
from tfhub.tf1.reusable import ReusableHubModule, load_reusable

TARGET = 0.5 * dense_reference(X) + 1.0  # reachable through kernel and bias


def _hidden_loss(obj: ReusableHubModule, training: bool) -> Any:
    hidden = obj(X, training=training, as_dict=True)["hidden"]
    return tf.reduce_mean(tf.square(hidden - TARGET))


# -- (a) the object itself, GradientTape --------------------------------------------------


def test_inference_outputs_variables_and_signatures(hub_module: Path) -> None:
    obj = load_reusable(hub_module)
    assert isinstance(obj, tf.Module)
    assert obj.train_tags == frozenset({"train"})
    assert sorted(v.name for v in obj.variables) == VARIABLES
    assert sorted(v.name for v in obj.trainable_variables) == TRAINABLE_VARIABLES
    np.testing.assert_allclose(obj(X).numpy(), dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(obj.variable_map["dense/kernel"].numpy(), KERNEL)
    # The vocabulary asset and lookup table, a sparse input.
    words = obj(sparse_tensor(WORDS), signature="words", as_dict=True)
    np.testing.assert_allclose(words["default"].numpy(), words_reference(WORDS))
    assert words["ids"].values.numpy().tolist() == [0, 2, 3, 1, 1, 0]
    assert sorted(obj.signatures) == ["default", "words"]
    by_signature = obj.signatures["words"](words=sparse_words(WORDS))
    np.testing.assert_allclose(by_signature["default"].numpy(), words_reference(WORDS))
    # Calling is pure in inference: the moving mean stays.
    np.testing.assert_array_equal(obj.variable_map["bn/moving_mean"].numpy(), [0.0, 0.0])


def test_training_runs_the_train_variant_and_its_update_ops(hub_module: Path) -> None:
    obj = load_reusable(hub_module)
    moving_mean = obj.variable_map["bn/moving_mean"]
    obj(X, training=False)
    np.testing.assert_array_equal(moving_mean.numpy(), [0.0, 0.0])
    outputs = obj(X, training=True, as_dict=True)
    expected = (1 - MOMENTUM) * batch_mean()
    np.testing.assert_allclose(moving_mean.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(outputs["hidden"].numpy(), dense_reference(X), rtol=1e-6)
    # train variant: batch mean subtracted, then dropout (zeros or doubled values)
    centred = dense_reference(X) - batch_mean()
    got = outputs["default"].numpy()
    assert np.all(np.isclose(got, 0.0, atol=1e-6) | np.isclose(got, 2 * centred, rtol=1e-5))
    # the inference variant now reads the updated moving mean: the variables are shared
    np.testing.assert_allclose(obj(X).numpy(), dense_reference(X) - expected, rtol=1e-5)
    # a training call as a tensor flag (tf.cond) also updates
    obj(X, training=tf.constant(True))
    np.testing.assert_allclose(
        moving_mean.numpy(), expected * (1 + MOMENTUM), rtol=1e-5
    )  # second batch: same mean


def test_regularization_losses_equal_the_module_graph(hub_module: Path) -> None:
    import tfhub.tf1 as hub

    obj = load_reusable(hub_module)
    values = [float(loss()) for loss in obj.regularization_losses]
    with tf.Graph().as_default():
        hub.Module(str(hub_module), trainable=True, tags={"train"})
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            graph_values = session.run(losses)
    np.testing.assert_allclose(sorted(values), sorted(graph_values), rtol=1e-6)
    np.testing.assert_allclose(sorted(values), REGULARIZATION, rtol=1e-6)


def _train_with_tape(obj: ReusableHubModule, steps: int) -> list[float]:
    import keras

    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = _hidden_loss(obj, training=True)
            loss += tf.add_n([f() for f in obj.regularization_losses])
        variables = obj.trainable_variables
        grads = tape.gradient(loss, variables)
        assert all(g is not None for g in grads)  # embeddings through the regularizer
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        losses.append(float(loss))
    return losses


def test_gradient_tape_and_a_keras_optimizer_train_it(hub_module: Path) -> None:
    obj = load_reusable(hub_module)
    before = float(_hidden_loss(obj, training=False))
    losses = _train_with_tape(obj, steps=20)
    after = float(_hidden_loss(obj, training=False))
    assert after < 0.5 * before, (before, after)
    assert losses[-1] < losses[0]
    assert not np.allclose(obj.variable_map["dense/kernel"].numpy(), KERNEL)
    assert not np.allclose(obj.variable_map["embeddings"].numpy(), EMBEDDINGS)  # L2 only
    # the inference variant computes with the trained weights
    kernel = obj.variable_map["dense/kernel"].numpy()
    bias = obj.variable_map["dense/bias"].numpy()
    hidden = obj(X, as_dict=True)["hidden"].numpy()
    np.testing.assert_allclose(hidden, np.maximum(X @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    # a tf.function training step works as well
    step = tf.function(lambda: _hidden_loss(obj, training=True))
    assert float(step()) == pytest.approx(after, rel=1e-5)


def test_outputs_named_like_the_ops_load_reusable_adds_keep_their_values(tmp_path: Path) -> None:
    """``load_reusable`` adds ops (``Identity``, ``ReadVariableOp``) to the graph it imports a
    graph variant into; a node of the module with such a name (here an unnamed top-level
    ``tf.identity``) must still be what the signature returns, not one of those ops."""

    def module_fn() -> None:
        x = tf.compat.v1.placeholder(tf.float32, [None])
        v = tf.compat.v1.get_variable("v", initializer=2.0)
        tfhub.add_signature(inputs=x, outputs={"default": tf.identity(x), "scaled": x * v})

    path = export_module(tfhub.create_module_spec(module_fn), tmp_path / "m")
    outputs = load_reusable(path)(tf.constant([1.0, 3.0]), as_dict=True)
    np.testing.assert_array_equal(outputs["default"].numpy(), [1.0, 3.0])
    np.testing.assert_array_equal(outputs["scaled"].numpy(), [2.0, 6.0])


# -- (b) Keras 3 and tf_keras ----------------------------------------------------------


def _keras(flavour: str) -> tuple[Any, Any]:
    if flavour == "keras3":
        import keras

        import tfhub.keras3

        return keras, tfhub.keras3.KerasLayer
    import tf_keras

    import tfhub.tf_keras

    return tf_keras, tfhub.tf_keras.KerasLayer


def _model(keras: Any, layer: Any) -> Any:
    head = keras.layers.Dense(1, kernel_initializer="ones", name="head")
    model = keras.Sequential([keras.Input([3]), layer, head])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


def _reg_losses(model: Any) -> list[float]:
    return [float(loss) for loss in model.losses]


@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
def test_keras_layer_fine_tunes_the_module(hub_module: Path, tmp_path: Path, flavour: str) -> None:
    keras, layer_class = _keras(flavour)
    obj = load_reusable(hub_module)
    layer = layer_class(obj, trainable=True)
    model = _model(keras, layer)
    assert len(layer.trainable_weights) == 3  # kernel, bias, embeddings
    assert len(layer.non_trainable_weights) == 1  # the moving mean
    # the train variant runs when training; a frozen layer runs inference
    inference = layer(X, training=False).numpy()
    np.testing.assert_allclose(inference, dense_reference(X), rtol=1e-6)
    assert not np.allclose(layer(X, training=True).numpy(), inference)
    moving_mean = obj.variable_map["bn/moving_mean"]
    moving_mean.assign([0.0, 0.0])
    # the module's regularization losses are in model.losses
    assert sum(_reg_losses(model)) == pytest.approx(sum(REGULARIZATION), rel=1e-5)

    before = model.evaluate(X, Y, verbose=0)
    np.testing.assert_array_equal(moving_mean.numpy(), [0.0, 0.0])  # no update in evaluate
    model.fit(X, Y, epochs=40, batch_size=4, verbose=0)
    after = model.evaluate(X, Y, verbose=0)
    assert after < before, (before, after)
    assert not np.allclose(obj.variable_map["dense/kernel"].numpy(), KERNEL)
    assert not np.allclose(moving_mean.numpy(), 0.0)  # the update ops ran in fit
    trained = model.predict(X, verbose=0)
    kernel = obj.variable_map["dense/kernel"].numpy()

    # saving and reloading keeps the trained weights (into a fresh layer on the module)
    path = str(tmp_path / ("model.weights.h5" if flavour == "keras3" else "model.h5"))
    model.save_weights(path)
    fresh = load_reusable(hub_module)
    restored = _model(keras, layer_class(fresh, trainable=True))
    np.testing.assert_allclose(fresh.variable_map["dense/kernel"].numpy(), KERNEL)
    restored.load_weights(path)
    np.testing.assert_allclose(fresh.variable_map["dense/kernel"].numpy(), kernel)
    np.testing.assert_allclose(fresh.variable_map["bn/moving_mean"].numpy(), moving_mean.numpy())
    np.testing.assert_allclose(restored.predict(X, verbose=0), trained, rtol=1e-5)


def test_a_frozen_keras_layer_never_trains_the_module(hub_module: Path) -> None:
    keras, layer_class = _keras("keras3")
    obj = load_reusable(hub_module)
    layer = layer_class(obj, trainable=False)
    model = _model(keras, layer)
    assert model.losses == []
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(obj.variable_map["dense/kernel"].numpy(), KERNEL)
    np.testing.assert_array_equal(obj.variable_map["bn/moving_mean"].numpy(), [0.0, 0.0])
    np.testing.assert_allclose(layer(X, training=True).numpy(), dense_reference(X), rtol=1e-6)


# -- (c) the module the original 0.15.0 wrote ----------------------------------------


def test_the_original_librarys_module_fine_tunes(original_module: Path) -> None:
    obj = load_reusable(original_module)
    np.testing.assert_allclose(obj(X).numpy(), dense_reference(X), rtol=1e-6)
    words = obj(sparse_tensor(WORDS), signature="words")
    np.testing.assert_allclose(words.numpy(), words_reference(WORDS))
    before = float(_hidden_loss(obj, training=False))
    _train_with_tape(obj, steps=20)
    assert float(_hidden_loss(obj, training=False)) < 0.5 * before
    assert not np.allclose(obj.variable_map["bn/moving_mean"].numpy(), 0.0)
    assert not np.allclose(obj.variable_map["dense/kernel"].numpy(), KERNEL)
