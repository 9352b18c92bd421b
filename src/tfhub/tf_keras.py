"""The ``tf_keras`` ``KerasLayer``, chosen explicitly: ``tfhub.tf_keras.KerasLayer(handle)``."""

from tfhub.tf.tf_keras_layer import TfKerasLayer as KerasLayer

__all__ = ["KerasLayer"]
