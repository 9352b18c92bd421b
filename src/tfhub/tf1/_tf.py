"""TensorFlow for the TF1 Hub format API, imported on first use, and the graph-mode check."""

from __future__ import annotations

import importlib
from typing import Any

from tfhub.errors import GraphModeError
from tfhub.tf._import import tensorflow

EAGER_HINT = (
    "In TF2 use tfhub.load(handle) or tfhub.KerasLayer(handle) instead, or build a graph: "
    "`with tf.Graph().as_default(): ...` (or call tf.compat.v1.disable_v2_behavior() when "
    "the program starts)."
)


def tf() -> Any:
    """The ``tensorflow`` module."""
    return tensorflow()


def v1() -> Any:
    """``tensorflow.compat.v1``."""
    return tensorflow().compat.v1


def proto(name: str) -> Any:
    """A generated protocol buffer module of TensorFlow, e.g. ``protobuf.meta_graph_pb2``."""
    tensorflow()
    return importlib.import_module(f"tensorflow.core.{name}")


def require_graph_mode(what: str) -> None:
    """Raises :class:`GraphModeError` if TensorFlow is executing eagerly."""
    if tf().executing_eagerly():
        raise GraphModeError(f"{what} builds a TF1 graph and cannot run eagerly. {EAGER_HINT}")
