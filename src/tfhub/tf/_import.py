"""Importing TensorFlow (and the two Kerases) on first use, with an install hint; and
:func:`read_file`, a model's file read through TensorFlow's file systems."""

from __future__ import annotations

import os
from types import ModuleType

from tfhub.errors import MissingDependencyError, ModelFormatError


def tensorflow() -> ModuleType:
    """The ``tensorflow`` module, imported now."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as e:  # pragma: no cover - TensorFlow is a dependency
        raise MissingDependencyError(
            f"tfhub needs TensorFlow to load models: pip install 'tensorflow==2.21.*' ({e})."
        ) from e
    return tf


def keras3() -> ModuleType:
    """Keras 3 (the ``keras`` package that TensorFlow 2.21 uses as ``tf.keras``)."""
    tensorflow()
    import keras

    if not keras.__version__.startswith("3."):
        raise MissingDependencyError(
            f"Keras 3 is needed, found keras {keras.__version__}: pip install 'keras>=3'."
        )
    return keras


def tf_keras() -> ModuleType:
    """The legacy ``tf_keras`` package (Keras 2 API)."""
    tensorflow()
    try:
        import tf_keras
    except ImportError as e:
        raise MissingDependencyError(
            f"The legacy Keras layer needs tf_keras: pip install 'tf-keras==2.21.*' ({e})."
        ) from e
    return tf_keras


def read_file(path: str) -> bytes:
    """The bytes of a model's file, local or in storage (``gs://``, ``s3://``) through
    ``tf.io.gfile``.

    Raises:
        ModelFormatError: the file cannot be read (TensorFlow's error, translated).
    """
    tf = tensorflow()
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return bytes(f.read())
    except tf.errors.OpError as e:
        reason = e.message or type(e).__name__  # some file systems give no message
        raise ModelFormatError(f"Cannot read {path}: {reason}") from e
