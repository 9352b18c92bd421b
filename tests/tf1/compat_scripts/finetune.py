"""TF1 compatibility mode, fine-tuning: ``Module(handle, trainable=True, tags={"train"})``,
GradientDescent in a Session (update ops and regularization losses included), then the same
with the inference variant (no update ops), and export + reload of the trained module.
Usage: ``finetune.py MODULE_DIR EXPORT_DIR``."""

from __future__ import annotations

import sys
from typing import Any

from _compat import emit, names, tf1

STEPS = 3


def _train(tf: Any, hub: Any, module_dir: str, tags: Any, export_dir: str | None) -> dict[str, Any]:
    from tf1.hub_fixture import X

    keys = tf.GraphKeys
    with tf.Graph().as_default():
        module = hub.Module(module_dir, trainable=True, tags=tags)
        output = module(X, as_dict=True)
        loss = tf.reduce_mean(tf.square(output["default"]))
        loss += tf.add_n(tf.get_collection(keys.REGULARIZATION_LOSSES))
        with tf.control_dependencies(tf.get_collection(keys.UPDATE_OPS)):
            train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        result = {k: names(tf, k) for k in (keys.TRAINABLE_VARIABLES, keys.UPDATE_OPS,
                                            keys.REGULARIZATION_LOSSES)}  # fmt: skip
        with tf.Session() as session:
            session.run([tf.global_variables_initializer(), tf.tables_initializer()])
            result["before"] = session.run(module.variable_map)
            result["hidden"] = session.run(output["hidden"])
            for _ in range(STEPS):
                session.run(train)
            result["after"] = session.run(module.variable_map)
            if export_dir:
                module.export(export_dir, session)
    return result


def _reload(tf: Any, hub: Any, export_dir: str) -> dict[str, Any]:
    with tf.Graph().as_default():
        module = hub.Module(export_dir)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return dict(session.run(module.variable_map))


def main(module_dir: str, export_dir: str) -> None:
    tf = tf1()
    import tfhub.tf1 as hub

    emit(
        train=_train(tf, hub, module_dir, {"train"}, export_dir),
        inference=_train(tf, hub, module_dir, None, None),
        reloaded=_reload(tf, hub, export_dir),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
