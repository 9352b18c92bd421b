"""Fine-tuning a ``tfhub.load``-ed TF2 SavedModel with a TF1 optimizer and ``Session.run``.

Usage: ``session_finetune.py MODEL_DIR``. Two graphs, each with its own Session:

* ``train_op_first`` builds the train op before the first ``Session.run`` (the TF1 way),
  takes one full-batch SGD step, then more;
* ``run_first`` runs the forward pass first and builds the gradients afterwards: TF builds
  the gradient of a restored function by rewriting its call op to give more outputs, which
  a Session that already ran the op never sees, so the step fails with "Connecting to
  invalid output 1 of source node ...StatefulPartitionedCall".
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    import _compat

    tf = _compat.tf1()
    import numpy as np

    import tfhub

    path = sys.argv[1]
    x = np.array(_compat.X, np.float32)
    y = np.array(_compat.Y, np.float32)
    result: dict[str, Any] = {"x": x, "y": y}

    def build() -> tuple[Any, Any, Any, dict[Any, Any]]:
        model = tfhub.load(path)
        inputs = tf.placeholder(tf.float32, [None, 3])
        targets = tf.placeholder(tf.float32, [None, 2])
        outputs = model(inputs, training=True)
        loss = tf.reduce_mean(tf.square(outputs - targets))
        loss += tf.add_n([fn() for fn in model.regularization_losses])
        optimizer = tf.train.GradientDescentOptimizer(_compat.LR)
        return model, loss, optimizer, {inputs: x, targets: y}

    with tf.Graph().as_default():  # train_op_first
        model, loss, optimizer, feed = build()
        # The loaded variables are not in the TRAINABLE_VARIABLES collection: name them.
        result["no_var_list"] = _compat.error_of(lambda: optimizer.minimize(loss))
        train_op = optimizer.minimize(loss, var_list=model.trainable_variables)
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
            # (The forward pass runs with training=True: it also updates the moving mean.)
            _, result["loss_before"] = sess.run([train_op, loss], feed)
            result["variables_after_one_step"] = sess.run(model.variables)
            result["variable_names"] = [v.name for v in model.variables]
            result["losses"] = [sess.run([train_op, loss], feed)[1] for _ in range(20)]

    with tf.Graph().as_default():  # run_first
        model, loss, optimizer, feed = build()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(loss, feed)
            train_op = optimizer.minimize(loss, var_list=model.trainable_variables)
            result["run_first_step_error"] = _compat.error_of(lambda: sess.run(train_op, feed))
    _compat.emit(**result)


if __name__ == "__main__":
    main()
