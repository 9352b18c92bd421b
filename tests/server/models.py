"""Real models the hub tests publish (imports TensorFlow; use from fixtures only).

``save_scaled_model(path, scale)`` writes a reusable TF2 SavedModel computing
``x @ (KERNEL * scale) + BIAS`` (so two versions give different outputs), with a
``serving_default`` signature (output ``output``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

KERNEL = np.array([[0.5, -1.0], [0.25, 2.0], [1.0, 0.5]], np.float32)
BIAS = np.array([0.1, -0.2], np.float32)
X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], np.float32)


def expected(x: np.ndarray, scale: float) -> np.ndarray:
    return x @ (KERNEL * scale) + BIAS


def save_scaled_model(path: Path, scale: float) -> Path:
    kernel = tf.Variable(KERNEL * scale, name="kernel")
    bias = tf.Variable(BIAS, name="bias")

    @tf.function
    def call(x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.matmul(x, kernel) + bias

    spec = tf.TensorSpec([None, 3], tf.float32)
    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    call.get_concrete_function(spec)

    @tf.function(input_signature=[spec])
    def serving(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"output": call(x)}

    root = tf.train.Checkpoint(kernel=kernel, bias=bias)
    root.__call__ = call
    root.variables = [kernel, bias]
    root.trainable_variables = [kernel, bias]
    root.regularization_losses = []
    tf.saved_model.save(root, str(path), signatures={"serving_default": serving})
    return path
