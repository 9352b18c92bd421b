"""Fine-tuning a ``tfhub.load``-ed TF2 SavedModel with a TF1 optimizer and ``Session.run``.

Usage: ``session_finetune.py MODEL_DIR (train_op_first | run_first)``.

``train_op_first`` builds the train op before the first ``Session.run`` (the TF1 way) and
takes one full-batch SGD step, then more. ``run_first`` runs the forward pass first and builds
the gradients afterwards: TF builds the gradient of a restored function by rewriting its call
op to give more outputs, which a Session that already ran the op never sees, so the step
fails with "Connecting to invalid output 1 of source node ...StatefulPartitionedCall".
"""

from __future__ import annotations

import sys


def main() -> None:
    import _compat

    tf = _compat.tf1()
    import numpy as np

    import tfhub

    path, mode = sys.argv[1:3]
    x = np.array(_compat.X, np.float32)
    y = np.array(_compat.Y, np.float32)
    model = tfhub.load(path)
    inputs = tf.placeholder(tf.float32, [None, 3])
    targets = tf.placeholder(tf.float32, [None, 2])
    feed = {inputs: x, targets: y}
    outputs = model(inputs, training=True)
    loss = tf.reduce_mean(tf.square(outputs - targets))
    loss += tf.add_n([fn() for fn in model.regularization_losses])
    optimizer = tf.train.GradientDescentOptimizer(_compat.LR)
    result: dict[str, object] = {"x": x, "y": y, "mode": mode}

    if mode == "train_op_first":
        # The loaded variables are not in the TRAINABLE_VARIABLES collection: name them.
        result["no_var_list"] = _compat.error_of(lambda: optimizer.minimize(loss))
        train_op = optimizer.minimize(loss, var_list=model.trainable_variables)
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
            # (The forward pass runs with training=True: it also updates the moving mean.)
            _, result["loss_before"] = sess.run([train_op, loss], feed)
            result["variables_after_one_step"] = sess.run(model.variables)
            result["variable_names"] = [v.name for v in model.variables]
            losses = [sess.run([train_op, loss], feed)[1] for _ in range(20)]
            result["losses"] = losses
    else:
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            result["loss_before"] = sess.run(loss, feed)
            train_op = optimizer.minimize(loss, var_list=model.trainable_variables)
            result["step_error"] = _compat.error_of(lambda: sess.run(train_op, feed))
    _compat.emit(**result)


if __name__ == "__main__":
    main()
