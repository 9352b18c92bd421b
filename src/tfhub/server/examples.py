"""The example models a new hub starts with, so a first visit shows a working hub.

* ``examples/tiny-encoder/1``: a TF2 reusable SavedModel, ``__call__(x, training=False)``
  maps float32 ``[batch, 3]`` to ``relu(x @ kernel + bias)`` (``[batch, 2]``), with an L2
  regularization loss and a ``serving_default`` signature;
* ``examples/tiny-hub-module/1``: a TF1 Hub module with two graph variants (inference, and
  ``train`` with dropout), signature ``default``: ``x`` (float32 ``[batch, 3]``) ->
  ``default`` (``[batch, 2]``).

Building them needs TensorFlow, so it runs in a child process
(``python -m tfhub.server.examples OUT_DIR``); the server itself never imports it. They
are published through the normal publish pipeline, once (a database flag remembers it).

Example (``hub`` a :class:`~tfhub.server.context.HubContext`)::

    publish_examples(hub)   # builds, publishes; does nothing on the next start
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tfhub.errors import ConfigError, ServerError

logger = logging.getLogger("tfhub.server")

PUBLISHER = "examples"
FLAG = "examples_published"
TF2_MODEL = "tiny-encoder"
TF1_MODEL = "tiny-hub-module"
KERNEL = [[0.5, -1.0], [0.25, 2.0], [1.0, 0.5]]
BIAS = [0.1, -0.2]

TF2_README = """# Tiny encoder

A tiny TF2 SavedModel that follows the *Reusable SavedModel* conventions: it maps a batch of
3 numbers to 2 features, `relu(x @ kernel + bias)`, and can be fine-tuned in Keras.

* input: float32 `[batch, 3]`
* output: float32 `[batch, 2]`
* `training=True` is accepted (the model behaves the same); an L2 regularization loss is
  exported in `regularization_losses`.

```python
import tfhub as hub
import tensorflow as tf

model = hub.load("{handle}")
print(model(tf.constant([[1.0, 2.0, 3.0]])))   # [[4.1, 4.3]]
```
"""

TF1_README = """# Tiny hub module

A tiny module in the legacy **TF1 Hub format**, with two graph variants: inference (no
tags) and `train` (dropout). Signature `default`: input `x` (float32 `[batch, 3]`), output
`default` (float32 `[batch, 2]`, `relu(x @ kernel + bias)`).

```python
import tfhub as hub
import tensorflow as tf

model = hub.load("{handle}")
print(model.signatures["default"](x=tf.constant([[1.0, 2.0, 3.0]]))["default"])
```
"""


def build(out_dir: str) -> None:
    """Writes ``out_dir/tf2`` and ``out_dir/tf1`` (imports TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _build_tf2(os.path.join(out_dir, "tf2"))
    _build_tf1(os.path.join(out_dir, "tf1"))


def _tensorflow() -> Any:
    return importlib.import_module("tensorflow")


def _build_tf2(path: str) -> None:
    tf = _tensorflow()
    kernel = tf.Variable(KERNEL, name="kernel")
    bias = tf.Variable(BIAS, name="bias")

    def forward(x: Any, training: bool = False) -> Any:
        return tf.nn.relu(tf.matmul(x, kernel) + bias)

    def l2_loss() -> Any:
        return 1e-4 * tf.reduce_sum(tf.square(kernel))

    call = tf.function(forward)
    spec = tf.TensorSpec([None, 3], tf.float32)
    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    call.get_concrete_function(spec)
    root = tf.train.Checkpoint(kernel=kernel, bias=bias)
    root.__call__ = call
    root.variables = [kernel, bias]
    root.trainable_variables = [kernel, bias]
    root.regularization_losses = [tf.function(l2_loss, input_signature=[])]
    serving = call.get_concrete_function(spec, training=False)
    tf.saved_model.save(root, path, signatures={"serving_default": serving})


def _build_tf1(path: str) -> None:
    tf = _tensorflow()
    hub: Any = importlib.import_module("tfhub")

    def module_fn(training: bool) -> None:
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        kernel = v1.get_variable("kernel", initializer=tf.constant(KERNEL))
        bias = v1.get_variable("bias", initializer=tf.constant(BIAS))
        out = tf.nn.relu(tf.matmul(x, kernel) + bias)
        if training:
            out = v1.nn.dropout(out, rate=0.1)
        hub.add_signature(inputs={"x": x}, outputs={"default": out})

    spec = hub.create_module_spec(
        module_fn, tags_and_args=[({"train"}, {"training": True}), (set(), {"training": False})]
    )
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            module.export(path, session)


def build_in_child(out_dir: str, timeout: float = 600) -> None:
    """Runs :func:`build` in a fresh interpreter (the server stays free of TensorFlow)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "tfhub.server.examples", out_dir],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ConfigError(
            f"Building the example models failed (exit {proc.returncode}); start with "
            f"--no-examples to skip them.\n{proc.stderr[-3000:]}"
        )


def publish_examples(hub: Any, base_url: str = "http://127.0.0.1:8080") -> bool:
    """Builds and publishes the examples unless that was done before; returns whether it
    published them now."""
    from tfhub.core.pack import pack_archive
    from tfhub.server.access import Viewer
    from tfhub.server.admin import set_publisher
    from tfhub.server.pipeline import PublishRequest, publish

    if hub.db.get_flag(FLAG):
        return False
    logger.info("Building the example models (first start) ...")
    with tempfile.TemporaryDirectory(prefix="tfhub-examples-") as tmp:
        build_in_child(tmp)
        owner = set_publisher(
            hub.db, PUBLISHER, description="Small models that show how the hub works."
        )
        viewer = Viewer(owner.id, owner.name)
        for kind, name, readme, tags in (
            ("tf2", TF2_MODEL, TF2_README, ("example", "tf2", "encoder")),
            ("tf1", TF1_MODEL, TF1_README, ("example", "tf1-hub-format")),
        ):
            archive = pack_archive(Path(tmp, kind), Path(tmp, f"{kind}.tar.gz"))
            handle = f"{base_url.rstrip('/')}/{PUBLISHER}/{name}/1"
            request = PublishRequest(
                PUBLISHER, name, 1, str(archive), readme=readme.format(handle=handle),
                tags=tags,
            )  # fmt: skip
            try:
                publish(hub, viewer, request)
            except ServerError as e:
                if e.status != 409:  # another process published it first: fine
                    raise
    hub.db.set_flag(FLAG, "1")
    return True


if __name__ == "__main__":
    build(sys.argv[1])
