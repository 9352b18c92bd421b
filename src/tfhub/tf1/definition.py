"""What a ``module_fn`` declares while it builds a graph variant: signatures
(:func:`add_signature`) and attached messages (:func:`attach_message`).

They are kept beside the graph (not in its collections, so nothing leaks into an exported
MetaGraph by accident) until :func:`tfhub.tf1.create_module_spec` turns the graph into a
MetaGraph.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from tfhub.errors import ModuleDefinitionError
from tfhub.tf1._tf import tf, v1
from tfhub.tf1.tensor_info import tensor_info_proto

_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")


@dataclass
class Definition:
    """The signatures (``SignatureDef`` protos) and attachments declared in one graph."""

    signatures: dict[str, Any] = field(default_factory=dict)
    attachments: dict[str, bytes] = field(default_factory=dict)


_DEFINITIONS: weakref.WeakKeyDictionary[Any, Definition] = weakref.WeakKeyDictionary()


def definition_of(graph: Any) -> Definition:
    """The declarations made so far in ``graph`` (created empty on first use)."""
    if graph not in _DEFINITIONS:
        _DEFINITIONS[graph] = Definition()
    return _DEFINITIONS[graph]


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {"default": value}


def add_signature(name: str | None = None, inputs: Any = None, outputs: Any = None) -> None:
    """Declares a signature of the module being defined (call it inside a ``module_fn``).

    Args:
        name: the signature name; None or empty means ``"default"``, the one
            ``Module.__call__`` uses when no ``signature`` is given.
        inputs: a dict from input name to ``tf.Tensor``, ``tf.SparseTensor`` or
            ``tf.RaggedTensor``; a single tensor means ``{"default": tensor}``.
        outputs: the same for the outputs.

    Raises:
        ModuleDefinitionError: a value is not a tensor, or is not in the graph being built.

    Example:
        >>> def module_fn():  # doctest: +SKIP
        ...     x = tf.compat.v1.placeholder(tf.float32, [None, 3])
        ...     add_signature(inputs=x, outputs=tf.reduce_sum(x, 1))
    """
    graph = v1().get_default_graph()
    key = name or "default"
    ins, outs = _as_dict(inputs), _as_dict(outputs)
    for label, value in (*ins.items(), *outs.items()):
        tensor_info_proto(label, value)  # type check
        if tf().nest.flatten(value, expand_composites=True)[0].graph is not graph:
            raise ModuleDefinitionError(
                f"add_signature({key!r}): {label!r} belongs to another graph; call "
                "add_signature inside the module_fn, with tensors it created."
            )
    utils = v1().saved_model
    signature = utils.signature_def_utils.build_signature_def(
        {k: tensor_info_proto(k, v) for k, v in ins.items()},
        {k: tensor_info_proto(k, v) for k, v in outs.items()},
    )
    definition_of(graph).signatures[key] = signature


def attach_message(key: str, message: Any) -> None:
    """Attaches a protocol message to the module being defined (call it inside a
    ``module_fn``); consumers read it with ``ModuleSpec.get_attached_message``.

    Args:
        key: starts with a letter, then letters, digits and underscores. The last message
            attached under a key wins.
        message: a protocol message object (anything with ``SerializeToString()``).

    Raises:
        ModuleDefinitionError: ``key`` is malformed or ``message`` cannot be serialized.

    Example:
        >>> attach_message("label_info", my_proto)  # doctest: +SKIP
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ModuleDefinitionError(
            f"attach_message(): malformed key {key!r}; use a letter followed by letters, "
            "digits and underscores."
        )
    serialize = getattr(message, "SerializeToString", None)
    if serialize is None:
        raise ModuleDefinitionError(
            f"attach_message({key!r}): expected a protocol message, got {type(message).__name__}."
        )
    definition_of(v1().get_default_graph()).attachments[key] = bytes(serialize())
