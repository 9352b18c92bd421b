"""TF1 compatibility mode, load / inference: ``Module(handle)`` with both signatures, its
collections and assets, two instances and repeated calls (also inside tf.cond and
tf.while_loop), attached messages,
``eval_function_for_module``. Usage: ``use_module.py MODULE_DIR``."""

from __future__ import annotations

import sys

from _compat import emit, names, tf1


def main(module_dir: str) -> None:
    tf = tf1()
    import tfhub.tf1 as hub
    from tf1.hub_fixture import MESSAGE_KEY, WORDS, X, sparse_words

    spec = hub.load_module_spec(module_dir)
    first = hub.Module(module_dir)
    second = hub.Module(spec)
    outputs = {
        "dense": first(X, as_dict=True),
        "again": first({"x": X}),
        "other": second(X),
        "words": first(sparse_words(WORDS), signature="words"),
        # Calls inside control flow (the module itself is created outside).
        "in_cond": tf.cond(tf.constant(True), lambda: first(X), lambda: tf.zeros([len(X), 2])),
        "in_loop": tf.while_loop(
            lambda i, acc: i < 2,
            lambda i, acc: (i + 1, acc + second(X)),
            [tf.constant(0), tf.zeros([len(X), 2])],
        )[1],
    }
    keys = tf.GraphKeys
    collections = {
        k: names(tf, k)
        for k in (keys.TRAINABLE_VARIABLES, keys.UPDATE_OPS, keys.REGULARIZATION_LOSSES,
                  keys.TABLE_INITIALIZERS, keys.GLOBAL_VARIABLES)
    }  # fmt: skip
    with tf.Session() as session:
        session.run([tf.global_variables_initializer(), tf.tables_initializer()])
        session.run(first.variable_map["dense/bias"].assign([5.0, 5.0]))
        values = session.run(outputs)
        assets = session.run(tf.get_collection(keys.ASSET_FILEPATHS))
    with hub.eval_function_for_module(module_dir) as f:
        evaluated = f(X)
    attached = first.get_attached_message(MESSAGE_KEY, tf.HistogramProto)
    emit(
        tags=[sorted(t) for t in spec.get_tags()],
        signatures=first.get_signature_names(),
        dense=values["dense"]["default"], hidden=values["dense"]["hidden"],
        again=values["again"], other=values["other"], words=values["words"],
        in_cond=values["in_cond"], in_loop=values["in_loop"],
        collections=collections, assets=sorted(set(assets)), evaluated=evaluated,
        attached=[attached.min, attached.max, attached.num],
        eager=tf.executing_eagerly(),
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
