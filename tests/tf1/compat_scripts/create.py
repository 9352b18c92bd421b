"""TF1 compatibility mode, creation: ``create_module_spec`` (the fixture's two variants),
``Module.export``, and ``ModuleSpec.export(checkpoint_path=...)`` from a TF1 checkpoint.
Usage: ``create.py WORKDIR``; writes WORKDIR/fixture and WORKDIR/linear."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from _compat import emit, tf1

KERNEL = np.array([[1.0], [2.0], [3.0]], np.float32)


def main(workdir: str) -> None:
    tf = tf1()
    import tfhub.tf1 as hub
    from tf1.hub_fixture import export_fixture

    root = Path(workdir)
    export_fixture(root / "fixture", root)

    def linear_fn() -> None:
        x = tf.placeholder(tf.float32, [None, 3])
        kernel = tf.get_variable("kernel", initializer=np.zeros([3, 1], np.float32))
        hub.add_signature(inputs=x, outputs=tf.matmul(x, kernel))

    with tf.Graph().as_default():
        variable = tf.get_variable("kernel", initializer=KERNEL)
        saver = tf.train.Saver([variable])
        with tf.Session() as session:
            session.run(variable.initializer)
            checkpoint = saver.save(session, str(root / "ckpt"))
    spec = hub.create_module_spec(linear_fn)
    spec.export(str(root / "linear"), checkpoint_path=checkpoint)
    emit(tags=[sorted(t) for t in spec.get_tags()], eager=tf.executing_eagerly())


if __name__ == "__main__":
    main(sys.argv[1])
