"""The Keras 3 ``KerasLayer``, chosen explicitly: ``tfhub.keras3.KerasLayer(handle)``."""

from tfhub.tf.keras3_layer import Keras3Layer as KerasLayer

__all__ = ["KerasLayer"]
