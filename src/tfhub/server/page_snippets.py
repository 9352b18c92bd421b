"""Copy-paste code for a model page: TF2, TF1 compatibility mode and Keras 3.

Each snippet names the page's own URL as the handle, and follows the model's format: a TF1
Hub module is called through a signature (``hub.Module`` in TF1 compatibility mode), a TF2
SavedModel through its ``__call__``. ``signature`` and ``output`` are the ones the
compatibility table picks (``default`` when the model has it).

Example:
    >>> code = model_snippets("http://hub/acme/enc/1", "tf1-hub-module", "default", "default")
    >>> [s.key for s in code]
    ['tf2', 'tf1', 'keras3']
    >>> print(code[1].code.splitlines()[5])
    module = hub.Module("http://hub/acme/enc/1")  # trainable=True, tags={"train"} to fine-tune
"""

from __future__ import annotations

from dataclasses import dataclass

TF1_HUB_MODULE = "tf1-hub-module"
TF1_SAVED_MODEL = "tf1-saved-model"

_TF1_PREAMBLE = """import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
"""
_TF1_SESSION = """with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
    print(sess.run(outputs, feed_dict={...}))
"""


@dataclass(frozen=True)
class Snippet:
    """One block of code: ``key`` (an HTML id part), a heading and the code."""

    key: str
    title: str
    code: str


def _q(text: str) -> str:
    """``text`` as a Python string literal in double quotes.

    >>> _q('a"b')
    '"a\\\\"b"'
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def model_snippets(
    handle: str, kind: str, signature: str | None, output: str | None
) -> list[Snippet]:
    """The TF2, TF1 compatibility mode and Keras 3 snippets for a model of format ``kind``."""
    h = _q(handle)
    if kind == TF1_HUB_MODULE:
        return _hub_module(h, _q(signature or "default"), _q(output or "default"))
    if kind == TF1_SAVED_MODEL:
        return _tf1_saved_model(h, _q(signature or "serving_default"), output)
    return _tf2_saved_model(h)


def _tf2_saved_model(h: str) -> list[Snippet]:
    tf2 = f"""import tfhub

model = tfhub.load({h})
outputs = model(inputs)  # model(inputs, training=True) while fine-tuning

# The original library loads it too:
import tensorflow_hub as hub

model = hub.load({h})
"""
    tf1 = f"""{_TF1_PREAMBLE}import tfhub

model = tfhub.load({h})  # graph ops in the default graph
outputs = model(tf.placeholder(tf.float32, [None, ...]))
{_TF1_SESSION}"""
    keras3 = f"""import keras
import tfhub

layer = tfhub.KerasLayer({h}, trainable=False)  # trainable=True to fine-tune
model = keras.Sequential([layer, keras.layers.Dense(1)])
"""
    return _three(tf2, tf1, keras3)


def _hub_module(h: str, signature: str, output: str) -> list[Snippet]:
    tf2 = f"""import tfhub

model = tfhub.load({h})
outputs = model.signatures[{signature}](**inputs)  # a dict of named tensors
model = tfhub.load({h}, trainable=True)  # fine-tune it in TF2

# The original library loads it too (inference only):
import tensorflow_hub as hub

model = hub.load({h})
"""
    tf1 = f"""{_TF1_PREAMBLE}import tfhub as hub  # or `import tensorflow_hub as hub` (<= 0.15)

module = hub.Module({h})  # trainable=True, tags={{"train"}} to fine-tune
outputs = module(inputs, signature={signature}, as_dict=True)
{_TF1_SESSION}"""
    keras3 = f"""import keras
import tfhub

layer = tfhub.KerasLayer({h}, signature={signature}, output_key={output})
# or tfhub.KerasLayer({h}, trainable=True) to fine-tune the module
"""
    return _three(tf2, tf1, keras3)


def _tf1_saved_model(h: str, signature: str, output: str | None) -> list[Snippet]:
    tf2 = f"""import tfhub

model = tfhub.load({h})
outputs = model.signatures[{signature}](**inputs)  # a dict of named tensors

# The original library loads it too:
import tensorflow_hub as hub

model = hub.load({h})
"""
    tf1 = f"""{_TF1_PREAMBLE}import tfhub

model = tfhub.load({h})
outputs = model.signatures[{signature}](**inputs)
{_TF1_SESSION}"""
    key = f"output_key={_q(output)}" if output else "signature_outputs_as_dict=True"
    keras3 = f"""import keras
import tfhub

layer = tfhub.KerasLayer({h}, signature={signature}, {key})
"""
    return _three(tf2, tf1, keras3)


def _three(tf2: str, tf1: str, keras3: str) -> list[Snippet]:
    return [
        Snippet("tf2", "TF2", tf2),
        Snippet("tf1", "TF1 compatibility mode", tf1),
        Snippet("keras3", "Keras 3", keras3),
    ]
