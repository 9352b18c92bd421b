"""``tfhub.KerasLayer`` in a ``tf_keras`` model under ``disable_v2_behavior()`` (graph mode).

Usage: ``keras_graph.py SEQUENCE MODEL_DIR``, SEQUENCE one of

* ``fit_first``: compile, one full-batch SGD step, then more epochs (the normal sequence);
* ``predict_first``: ``predict``, ``evaluate`` and ``get_weights`` before the first ``fit``
  (the trap: with a layer that calls the restored function lazily, ``fit`` then fails with
  "Connecting to invalid output 1 of source node ...StatefulPartitionedCall");
* ``frozen_between``: a frozen ``KerasLayer`` between two trainable ``Dense`` layers, with
  ``predict`` before ``fit`` (the gradient flows *through* the frozen model);
* ``bare_layer_predict_first``: the trap again, with a minimal ``tf_keras`` layer that calls
  the ``tfhub.load``-ed object directly (what plain TF and ``tf_keras`` do);
* ``vocab``: inference with a model that has a lookup table (MODEL_DIR is that model), the
  layer built from the handle and from a ``tfhub.load``-ed object.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    import _compat

    tf = _compat.tf1()
    import numpy as np
    import tf_keras

    import tfhub

    sequence, path = sys.argv[1:3]
    x = np.array(_compat.X, np.float32)
    y = np.array(_compat.Y, np.float32)
    result: dict[str, Any] = {"x": x, "y": y, "sequence": sequence}

    if sequence == "vocab":  # from the handle, then (in a new graph) from a loaded object
        for key, handle in (("predict", path), ("predict_loaded", None)):
            tf_keras.backend.clear_session()
            words = tf_keras.Input([], dtype=tf.string)
            layer = tfhub.KerasLayer(handle or tfhub.load(path))
            model = tf_keras.Model(words, layer(words))
            result["layer_class"] = type(layer).__name__
            result[key] = model.predict(np.array(_compat.WORDS), verbose=0)
        _compat.emit(**result)
        return

    def compile_(model: Any) -> Any:
        # Graph-mode tf_keras needs a legacy optimizer (the new ones call .numpy()).
        model.compile(optimizer=tf_keras.optimizers.legacy.SGD(_compat.LR), loss="mse")
        return model

    def one_step_then_more(model: Any) -> None:
        model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        result["weights_after_one_step"] = layer.get_weights()
        history = model.fit(x, y, batch_size=len(x), epochs=20, shuffle=False, verbose=0)
        result["losses"] = history.history["loss"]
        result["loss_after"] = model.evaluate(x, y, verbose=0)

    if sequence in ("fit_first", "predict_first"):
        layer = tfhub.KerasLayer(path, trainable=True)
        model = compile_(tf_keras.Sequential([tf_keras.Input([3]), layer]))
        result["layer_class"] = type(layer).__name__
        result["weight_names"] = [w.name for w in layer.weights]
        result["trainable_weight_names"] = [w.name for w in layer.trainable_weights]
        if sequence == "predict_first":
            result["predict_before"] = model.predict(x, verbose=0)
            result["loss_before"] = model.evaluate(x, y, verbose=0)
            result["weights_before"] = layer.get_weights()
        result["regularization_losses"] = tf_keras.backend.batch_get_value(model.losses)
        one_step_then_more(model)
    elif sequence == "frozen_between":
        layer = tfhub.KerasLayer(path)
        first = tf_keras.layers.Dense(3, kernel_initializer="identity")
        model = compile_(tf_keras.Sequential([tf_keras.Input([3]), first, layer]))
        result["regularization_losses"] = tf_keras.backend.batch_get_value(model.losses)
        result["predict_before"] = model.predict(x, verbose=0)
        result["loss_before"] = model.evaluate(x, y, verbose=0)
        result["weights_before"] = layer.get_weights()
        result["dense_before"] = first.get_weights()
        one_step_then_more(model)
        result["dense_after"] = first.get_weights()
    else:
        assert sequence == "bare_layer_predict_first"
        loaded = tfhub.load(path)

        class Bare(tf_keras.layers.Layer):  # type: ignore[misc]
            """The loaded object's variables as weights, its __call__ as call: no more."""

            def __init__(self) -> None:
                super().__init__()
                trainable = {id(v) for v in loaded.trainable_variables}
                for v in loaded.variables:
                    self.add_weight(
                        name=v.name.split(":")[0], shape=v.shape, dtype=v.dtype,
                        trainable=id(v) in trainable, getter=lambda *_, v=v, **__: v,
                    )  # fmt: skip

            def call(self, inputs: Any) -> Any:
                return loaded(inputs, training=False)

        model = compile_(tf_keras.Sequential([tf_keras.Input([3]), Bare()]))
        result["predict_before"] = model.predict(x, verbose=0)
        result["fit_error"] = _compat.error_of(
            lambda: model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        )
    _compat.emit(**result)


if __name__ == "__main__":
    main()
