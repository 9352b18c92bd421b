"""``tfhub.load`` + ``Session.run`` in TF1 compatibility mode, and what must be initialized.

Usage: ``load_session.py REUSABLE_MODEL_DIR VOCAB_MODEL_DIR``.

Loading in graph mode creates the model's variables *uninitialized*, with their restore op
(from the SavedModel's checkpoint) as initializer, and puts the init ops of its tables in
``TABLE_INITIALIZERS``: ``global_variables_initializer()`` restores the weights and
``tables_initializer()`` fills the tables; a ``MonitoredSession`` runs both by itself.
"""

from __future__ import annotations

import sys


def main() -> None:
    import _compat

    tf = _compat.tf1()
    import numpy as np

    import tfhub

    reusable, vocab = sys.argv[1:3]
    x = np.array(_compat.X, np.float32)
    model = tfhub.load(reusable)
    inputs = tf.placeholder(tf.float32, [None, 3])
    feed = {inputs: x}
    inference = model(inputs)
    training = model(inputs, training=True)
    embed = model.signatures["embed"](inputs)["embedding"]
    serving = model.signatures["serving_default"](inputs)["output"]
    [moving_mean] = [v for v in model.variables if v.name.startswith("moving_mean")]

    table_model = tfhub.load(vocab)
    words = tf.placeholder(tf.string, [None])
    vectors = table_model(words)
    word_feed = {words: _compat.WORDS}

    result: dict[str, object] = {
        "x": x,
        "executing_eagerly": tf.executing_eagerly(),
        "global_variables": sorted(v.name for v in tf.global_variables()),
        "trainable_variables": sorted(v.name for v in tf.trainable_variables()),
        "table_initializers": len(tf.get_collection(tf.GraphKeys.TABLE_INITIALIZERS)),
    }
    with tf.Session() as sess:
        result["before_init"] = _compat.error_of(lambda: sess.run(inference, feed))
        sess.run(tf.global_variables_initializer())
        result["output"] = sess.run(inference, feed)
        result["embed"], result["serving"] = sess.run([embed, serving], feed)
        result["table_before_tables_init"] = _compat.error_of(lambda: sess.run(vectors, word_feed))
        sess.run(tf.tables_initializer())
        result["table_output"] = sess.run(vectors, word_feed)
        result["moving_mean_after_inference"] = sess.run(moving_mean)
        sess.run(training, feed)
        result["moving_mean_after_training_call"] = sess.run(moving_mean)

    # The shortcut: the default Scaffold runs global_variables_initializer() and, as its
    # local_init_op, tables_initializer().
    with tf.train.MonitoredSession() as sess:
        result["monitored_output"] = sess.run(inference, feed)
        result["monitored_table_output"] = sess.run(vectors, word_feed)
    _compat.emit(**result)


if __name__ == "__main__":
    main()
