"""``KerasLayer`` under a ``mixed_float16`` policy (Keras 3 and ``tf_keras``): the SavedModel
keeps its float32 graph, float16 inputs are cast to what it expects, outputs stay right and
fine-tuning still trains its float32 variables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from support.models import KERNEL, reference_output

X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]], np.float32)
Y = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 0.0], [2.0, -1.0]], np.float32)
LR = 0.1


@pytest.fixture
def mixed(flavour: Any) -> Iterator[Any]:
    """Sets the ``mixed_float16`` global policy of the flavour's Keras, and resets it."""
    mixed_precision = flavour.keras.mixed_precision
    before = mixed_precision.global_policy().name
    mixed_precision.set_global_policy("mixed_float16")
    try:
        yield flavour
    finally:
        mixed_precision.set_global_policy(before)
    assert mixed_precision.global_policy().name == before


def test_float16_inputs_are_cast_to_what_the_model_expects(mixed: Any, models: Any) -> None:
    k = mixed.keras
    layer = mixed.layer(models.reusable)
    assert layer.dtype_policy.name == "mixed_float16"
    out = layer(tf.constant(X, tf.float16))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out, reference_output(X), rtol=1e-3, atol=1e-3)

    pre = k.layers.Dense(3, kernel_initializer="identity", trainable=False, name="pre")
    inputs = k.Input([3])
    hidden = pre(inputs)
    outputs = layer(hidden)
    assert hidden.dtype == "float16" or hidden.dtype == tf.float16
    assert outputs.dtype == "float32" or outputs.dtype == tf.float32
    model = k.Model(inputs, outputs)
    np.testing.assert_allclose(
        model.predict(X, verbose=0), reference_output(X), rtol=1e-3, atol=1e-3
    )
    assert all(w.dtype in ("float32", tf.float32) for w in layer.weights)


def test_fine_tuning_under_mixed_precision(mixed: Any, models: Any) -> None:
    k = mixed.keras
    layer = mixed.layer(models.reusable, trainable=True)
    pre = k.layers.Dense(3, kernel_initializer="identity", trainable=False)
    model = k.Sequential([k.Input([3]), pre, layer])
    model.compile(optimizer=k.optimizers.SGD(LR), loss="mse")
    assert isinstance(model.optimizer, k.mixed_precision.LossScaleOptimizer)
    model.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)

    # the same step in float32 on the bare model
    obj = tf.saved_model.load(str(models.reusable))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(obj(X, training=True) - Y))
        loss += obj.regularization_losses[0]()
    grads = tape.gradient(loss, obj.trainable_variables)
    kernel = KERNEL - LR * grads[0].numpy()
    trained = layer.resolved_object.variables[0]
    assert trained.dtype == tf.float32
    assert not np.allclose(trained.numpy(), KERNEL)
    np.testing.assert_allclose(trained.numpy(), kernel, rtol=1e-3, atol=1e-3)
