"""Real TF2 SavedModels built for tests (imports TensorFlow: use only from TF tests).

``save_reusable_model(path)`` writes a model that follows the Reusable SavedModel
conventions: ``__call__(x, training=False)`` computes ``relu(x @ kernel + bias)`` minus a
moving mean that is updated only when ``training`` is true, exposes ``variables``,
``trainable_variables`` and an L2 ``regularization_losses`` term, and has two signatures:
``serving_default`` (outputs ``output`` and ``hidden``) and ``embed`` (output ``embedding``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

IN, OUT = 3, 2
L2 = 0.01
MOMENTUM = 0.5
KERNEL = np.array([[0.5, -1.0], [0.25, 2.0], [1.0, 0.5]], np.float32)
BIAS = np.array([0.1, -0.2], np.float32)


class Reusable(tf.Module):
    def __init__(self, momentum: float = MOMENTUM) -> None:
        super().__init__(name="reusable")
        self.momentum = momentum
        self.kernel = tf.Variable(KERNEL, name="kernel")
        self.bias = tf.Variable(BIAS, name="bias")
        self.moving_mean = tf.Variable(tf.zeros([OUT]), trainable=False, name="moving_mean")

    @tf.function(
        input_signature=[tf.TensorSpec([None, IN], tf.float32), tf.TensorSpec([], tf.bool)]
    )
    def call(self, x: tf.Tensor, training: tf.Tensor) -> tf.Tensor:
        hidden = tf.nn.relu(tf.matmul(x, self.kernel) + self.bias)
        if training:
            mean = tf.reduce_mean(hidden, axis=0)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
        return hidden - self.moving_mean

    @tf.function(input_signature=[])
    def l2(self) -> tf.Tensor:
        return L2 * tf.reduce_sum(tf.square(self.kernel))


def reference_output(x: np.ndarray, moving_mean: np.ndarray | None = None) -> np.ndarray:
    """What the freshly saved model returns for ``x`` in inference."""
    mean = np.zeros([OUT], np.float32) if moving_mean is None else moving_mean
    return np.maximum(x @ KERNEL + BIAS, 0) - mean


def save_reusable_model(
    path: str | Path, *, momentum: float = MOMENTUM, callable_root: bool = True
) -> Path:
    """Saves the model described in the module docstring; ``momentum=1.0`` freezes the
    moving mean (for comparisons where per-batch statistics would differ);
    ``callable_root=False`` leaves out ``__call__`` (only the signatures can be called)."""
    module = Reusable(momentum)
    root = tf.train.Checkpoint()
    root.module = module

    @tf.function(input_signature=[tf.TensorSpec([None, IN], tf.float32)])
    def serving(x: tf.Tensor) -> dict[str, tf.Tensor]:
        out = module.call(x, False)
        return {"output": out, "hidden": tf.nn.relu(tf.matmul(x, module.kernel) + module.bias)}

    @tf.function(input_signature=[tf.TensorSpec([None, IN], tf.float32)])
    def embed(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"embedding": tf.matmul(x, module.kernel)}

    if callable_root:
        root.__call__ = _with_python_training(module)
    root.variables = [module.kernel, module.bias, module.moving_mean]
    root.trainable_variables = [module.kernel, module.bias]
    root.regularization_losses = [module.l2]
    tf.saved_model.save(root, str(path), signatures={"serving_default": serving, "embed": embed})
    return Path(path)


def _with_python_training(module: Reusable) -> tf.types.experimental.GenericFunction:
    """``__call__(x, training=False)`` traced for both Python values of ``training``."""

    @tf.function
    def __call__(x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return module.call(x, tf.constant(training))

    spec = tf.TensorSpec([None, IN], tf.float32)
    __call__.get_concrete_function(spec, training=True)
    __call__.get_concrete_function(spec, training=False)
    __call__.get_concrete_function(spec)
    return __call__


COUNTING_KERNEL = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)


def save_counting_model(path: str | Path) -> Path:
    """Saves a reusable model whose ``__call__(x)`` takes *no* ``training`` argument, returns
    ``x @ COUNTING_KERNEL`` and adds 1 to the int64 variable ``calls`` each time it runs
    (so a test can tell tracing from running); ``kernel`` is its trainable variable."""
    root = tf.train.Checkpoint()
    root.kernel = tf.Variable(COUNTING_KERNEL, name="kernel")
    root.calls = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="calls")

    @tf.function(input_signature=[tf.TensorSpec([None, IN], tf.float32)])
    def __call__(x: tf.Tensor) -> tf.Tensor:
        root.calls.assign_add(1)
        return tf.matmul(x, root.kernel)

    root.__call__ = __call__
    root.variables = [root.kernel, root.calls]
    root.trainable_variables = [root.kernel]
    root.regularization_losses = []
    tf.saved_model.save(root, str(path))
    return Path(path)
