"""The original ``tensorflow_hub`` 0.16.1 loading models from a tfhub hub by URL handle.

``python original_client.py BASE_URL``: loads the TF2 model (latest and pinned) and the
TF1 Hub module (latest and pinned; ``hub.load`` signatures and ``hub.KerasLayer(signature=
...)``) from BASE_URL, and prints ``RESULT {json}`` with their outputs for the test.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np

with warnings.catch_warnings():  # its import of pkg_resources warns
    warnings.simplefilter("ignore")
    import tensorflow_hub as hub

import tensorflow as tf

X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], np.float32)


def main(base: str) -> None:
    assert hub.__version__ == "0.16.1", hub.__version__
    out: dict[str, object] = {}
    for name in ("zoo/encoder", "zoo/encoder/1"):
        out[name] = hub.load(f"{base}/{name}")(tf.constant(X)).numpy().tolist()
    for name in ("zoo/module", "zoo/module/1"):
        module = hub.load(f"{base}/{name}")
        out[name] = module.signatures["default"](x=tf.constant(X))["default"].numpy().tolist()
    import tf_keras

    layer = hub.KerasLayer(f"{base}/zoo/module/1", signature="default", output_key="default")
    model = tf_keras.Sequential([tf_keras.Input([3]), layer])
    out["keras_layer"] = model.predict(X, verbose=0).tolist()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
