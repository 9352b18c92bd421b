"""Creating TF2 SavedModels with ``tf.saved_model.save`` from TF1 compatibility mode.

Usage: ``create_saved_model.py OUT_DIR``; writes ``OUT_DIR/reusable`` (follows the Reusable
SavedModel conventions), ``OUT_DIR/plain`` (a plain ``tf.Module`` root, which does not) and
``OUT_DIR/keras`` (a ``tf_keras`` model trained in graph mode).

The recipe: ``tf.saved_model.save`` reads the variables' values through the *default
session*, so call it inside ``with tf.Session() as sess:`` (or ``sess.as_default()``) after
the variables are initialized (and trained); without one it raises ``RuntimeError``. A
``tf.train.Checkpoint`` root creates its ``save_counter`` variable lazily, on save: touch
``root.save_counter`` before running ``global_variables_initializer()``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def main() -> None:
    import _compat

    tf = _compat.tf1()
    import numpy as np
    import tensorflow as tf2  # tf2.Module, tf2.function, tf2.saved_model: the TF2 API

    out = Path(sys.argv[1])
    x = np.array(_compat.X, np.float32)
    y = np.array(_compat.Y, np.float32)

    class Net(tf2.Module):
        def __init__(self) -> None:
            super().__init__(name="net")
            self.kernel = tf2.Variable(tf.ones([3, 2]), name="kernel")
            self.bias = tf2.Variable(tf.zeros([2]), name="bias")
            self.moving_mean = tf2.Variable(tf.zeros([2]), trainable=False, name="moving_mean")

        @tf2.function
        def __call__(self, inputs: Any, training: bool = False) -> Any:
            hidden = tf.nn.relu(tf.matmul(inputs, self.kernel) + self.bias)
            if training:
                mean = tf.reduce_mean(hidden, axis=0)
                self.moving_mean.assign(0.5 * self.moving_mean + 0.5 * mean)
            return hidden - self.moving_mean

        @tf2.function(input_signature=[])
        def l2_loss(self) -> Any:
            return 0.01 * tf.reduce_sum(tf.square(self.kernel))

    net = Net()
    # Trace __call__ for every `training` value callers may pass (a Python bool).
    spec = tf2.TensorSpec([None, 3], tf.float32)
    for training in (True, False):
        net.__call__.get_concrete_function(spec, training=training)
    net.__call__.get_concrete_function(spec)

    root = tf2.train.Checkpoint(net=net)
    root.__call__ = net.__call__
    root.variables = list(net.variables)
    root.trainable_variables = list(net.trainable_variables)
    root.regularization_losses = [net.l2_loss]
    # No default session (and tf_keras not imported: it would lend its own session).
    result: dict[str, Any] = {
        "x": x,
        "without_session": _compat.error_of(
            lambda: tf2.saved_model.save(tf2.train.Checkpoint(net=net), str(out / "no_session"))
        ),
    }

    inputs = tf.placeholder(tf.float32, [None, 3])
    targets = tf.placeholder(tf.float32, [None, 2])
    loss = tf.reduce_mean(tf.square(net(inputs, training=True) - targets)) + net.l2_loss()
    train_op = tf.train.GradientDescentOptimizer(_compat.LR).minimize(
        loss, var_list=root.trainable_variables
    )
    inference = net(inputs)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        result["save_counter_uninitialized"] = _compat.error_of(
            lambda: tf2.saved_model.save(root, str(out / "no_counter"))
        )
        sess.run(root.save_counter.initializer)  # or touch root.save_counter before the init
        for _ in range(3):
            sess.run(train_op, {inputs: x, targets: y})
        result["expected"] = sess.run(inference, {inputs: x})
        result["variables"] = sess.run(root.variables)
        tf2.saved_model.save(root, str(out / "reusable"))
        tf2.saved_model.save(net, str(out / "plain"))  # a plain tf.Module as the root

    import tf_keras
    from tf_keras.src.backend import get_session  # exported only in tf_keras's v1 API

    model = tf_keras.Sequential(
        [
            tf_keras.Input([3]),
            tf_keras.layers.Dense(2, kernel_regularizer=tf_keras.regularizers.L2(0.01)),
            tf_keras.layers.BatchNormalization(),
        ]
    )
    model.compile(optimizer=tf_keras.optimizers.legacy.SGD(_compat.LR), loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=3, verbose=0)
    result["keras_expected"] = model.predict(x, verbose=0)
    with get_session().as_default():
        tf2.saved_model.save(model, str(out / "keras"))
    _compat.emit(**result)


if __name__ == "__main__":
    main()
