"""Copy-paste code for a model: TF2, TF1 compatibility mode and Keras 3, per format.

Example:
    >>> code = snippets("http://127.0.0.1:8080/examples/encoder/1", "tf2-saved-model", {})
    >>> sorted(code)
    ['keras3', 'tf1_compat', 'tf2']
    >>> print(code["tf2"].splitlines()[3])
    model = hub.load("http://127.0.0.1:8080/examples/encoder/1")
"""

from __future__ import annotations

from typing import Any

_IMPORT = "import tfhub as hub  # old code: `import tensorflow_hub as hub` works too"


def _name(signature: Any) -> str | None:
    if isinstance(signature, dict):
        name = signature.get("name")
        return str(name) if name is not None else None
    return str(signature) if isinstance(signature, str) else None


def _signature_names(report: dict[str, Any]) -> list[str]:
    """Signature names in an inspection report (``tfhub.inspect/1`` or the basic one)."""
    names: set[str] = set()
    for variant in report.get("graph_variants") or []:
        if isinstance(variant, dict):
            names.update(n for n in map(_name, variant.get("signatures") or []) if n)
    return sorted(n for n in names if not n.startswith("__"))


def _pick(names: list[str], preferred: str) -> str:
    return preferred if preferred in names or not names else names[0]


def snippets(handle: str, kind: str, report: dict[str, Any]) -> dict[str, str]:
    """``{"tf2": ..., "tf1_compat": ..., "keras3": ...}`` for a model of format ``kind``."""
    names = _signature_names(report)
    if kind == "tf1-hub-module":
        return _hub_module(handle, _pick(names, "default"))
    if kind == "tf1-saved-model":
        return _tf1_saved_model(handle, _pick(names, "serving_default"))
    return _tf2_saved_model(handle)


def _tf2_saved_model(handle: str) -> dict[str, str]:
    return {
        "tf2": f"""import tensorflow as tf
{_IMPORT}

model = hub.load("{handle}")
outputs = model(inputs)  # inputs: a tf.Tensor
""",
        "tf1_compat": f"""import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
import tfhub as hub

model = hub.load("{handle}")
outputs = model(inputs)  # inputs: a placeholder or tensor
with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
    print(sess.run(outputs, feed_dict))
""",
        "keras3": f"""import keras
import tfhub as hub

layer = hub.KerasLayer("{handle}", trainable=False)  # trainable=True to fine-tune
model = keras.Sequential([layer, keras.layers.Dense(1)])
""",
    }


def _hub_module(handle: str, signature: str) -> dict[str, str]:
    return {
        "tf2": f"""import tensorflow as tf
{_IMPORT}

model = hub.load("{handle}")
outputs = model.signatures["{signature}"](**inputs)  # a dict of named tensors
""",
        "tf1_compat": f"""import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
import tfhub as hub

module = hub.Module("{handle}")  # trainable=True, tags={{"train"}} to fine-tune
outputs = module(inputs, signature="{signature}", as_dict=True)
with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
    print(sess.run(outputs, feed_dict))
""",
        "keras3": f"""import keras
import tfhub as hub

layer = hub.KerasLayer("{handle}", signature="{signature}", signature_outputs_as_dict=True)
outputs = layer(inputs)  # trainable=True (without signature=) fine-tunes the module
""",
    }


def _tf1_saved_model(handle: str, signature: str) -> dict[str, str]:
    return {
        "tf2": f"""import tensorflow as tf
{_IMPORT}

model = hub.load("{handle}")
outputs = model.signatures["{signature}"](**inputs)
""",
        "tf1_compat": f"""import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
import tfhub as hub

model = hub.load("{handle}")
outputs = model.signatures["{signature}"](**inputs)
with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
    print(sess.run(outputs, feed_dict))
""",
        "keras3": f"""import keras
import tfhub as hub

layer = hub.KerasLayer("{handle}", signature="{signature}", signature_outputs_as_dict=True)
""",
    }
