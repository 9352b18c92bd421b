"""``tfhub.KerasLayer``: one public name for both Kerases.

``tfhub.KerasLayer(...)`` builds a :class:`~tfhub.tf.tf_keras_layer.TfKerasLayer` when

* ``TF_USE_LEGACY_KERAS`` is ``1``/``true`` (TensorFlow then makes ``tf.keras`` be
  ``tf_keras`` too), or
* TF2 behaviour is off (``tf.compat.v1.disable_v2_behavior()``: graph mode, which only
  ``tf_keras`` supports),

and a Keras 3 :class:`~tfhub.tf.keras3_layer.Keras3Layer` otherwise. To choose explicitly, use
``tfhub.keras3.KerasLayer`` or ``tfhub.tf_keras.KerasLayer``. ``isinstance(x, tfhub.KerasLayer)``
is true for both.
"""

from __future__ import annotations

import abc
import os
import sys
from typing import Any

_LEGACY = ("1", "true", "yes")


def use_tf_keras() -> bool:
    """True if ``tfhub.KerasLayer`` should build a ``tf_keras`` layer now."""
    if os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in _LEGACY:
        return True
    import tensorflow as tf

    return not tf.compat.v1.executing_eagerly_outside_functions()


def layer_class() -> type:
    """The concrete layer class :class:`KerasLayer` builds now."""
    if use_tf_keras():
        from tfhub.tf.tf_keras_layer import TfKerasLayer

        return TfKerasLayer
    from tfhub.tf.keras3_layer import Keras3Layer

    return Keras3Layer


class _KerasLayerMeta(abc.ABCMeta):
    def __instancecheck__(cls, instance: Any) -> bool:
        return any(isinstance(instance, c) for c in _loaded_classes()) or super().__instancecheck__(
            instance
        )

    def __subclasscheck__(cls, subclass: type) -> bool:
        return any(issubclass(subclass, c) for c in _loaded_classes()) or super().__subclasscheck__(
            subclass
        )


def _loaded_classes() -> list[type]:
    classes = []
    for module, name in (
        ("tfhub.tf.keras3_layer", "Keras3Layer"),
        ("tfhub.tf.tf_keras_layer", "TfKerasLayer"),
    ):
        if module in sys.modules:
            classes.append(getattr(sys.modules[module], name))
    return classes


class KerasLayer(metaclass=_KerasLayerMeta):
    """Wraps a reusable SavedModel as a Keras layer (Keras 3 or ``tf_keras``, see module doc).

    Args:
        handle: a handle (path, URL, ...) or an already loaded model object.
        trainable: fine-tune the model's variables (default False).
        arguments: extra keyword arguments for every call of the model.
        tags: the MetaGraph tags to load (TF1 formats).
        signature: call this signature instead of ``__call__``.
        signature_outputs_as_dict: return all signature outputs as a dict.
        output_key: return only this output of a dict result.
        output_shape: the output shape without the batch dimension (a nest for several).
        load_options: a ``tf.saved_model.LoadOptions``.
        **kwargs: any Keras layer argument (``name``, ``dtype``, ...).

    Example:
        >>> import keras, tfhub  # doctest: +SKIP
        >>> model = keras.Sequential([keras.Input([3]), tfhub.KerasLayer("/models/enc")])
        ... # doctest: +SKIP
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return layer_class()(*args, **kwargs)
