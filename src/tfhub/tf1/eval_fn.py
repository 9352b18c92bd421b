"""``eval_function_for_module``: call a TF1 Hub module's signatures on values, no graph code."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from tfhub.errors import ModuleCallError
from tfhub.tf1._tf import tf, v1
from tfhub.tf1.module import Module
from tfhub.tf1.spec import ModuleSpec, Tags
from tfhub.tf1.tensor_info import ParsedTensorInfo, named_inputs

Endpoints = dict[str, tuple[dict[str, Any], dict[str, Any]]]
"""Signature name -> (input placeholders, output tensors)."""


def _placeholder(name: str, info: ParsedTensorInfo) -> Any:
    compat = v1()
    shape = info.get_shape()
    dims = None if shape.rank is None else shape.as_list()
    if info.info.kind == "sparse":
        return compat.sparse_placeholder(info.dtype, shape=dims, name=name)
    if info.info.kind == "ragged":
        ragged_rank = info.info.ragged_rank or 1
        value_shape = None if dims is None else dims[ragged_rank + 1 :]
        return compat.ragged.placeholder(info.dtype, ragged_rank, value_shape, name=name)
    return compat.placeholder(info.dtype, shape=dims, name=name)


def _endpoints(module: Module) -> Endpoints:
    """Placeholders and outputs of every signature, each under a scope named after it."""
    endpoints = {}
    for signature in module.get_signature_names():
        with v1().variable_scope(signature):
            inputs = {
                name: _placeholder(name, info)
                for name, info in module.get_input_info_dict(signature).items()
            }
            outputs = module(inputs, signature=signature, as_dict=True)
        endpoints[signature] = (inputs, outputs)
    return endpoints


def _feeds(placeholder: Any, value: Any) -> dict[Any, Any]:
    """Feed entries for one input (a ragged placeholder is fed component by component)."""
    if not isinstance(placeholder, tf().RaggedTensor):
        return {placeholder: value}
    if not isinstance(value, v1().ragged.RaggedTensorValue):
        raise ModuleCallError("Pass a ragged input as a tf.compat.v1.ragged.RaggedTensorValue.")
    parts = [value.flat_values, *value.nested_row_splits]
    holders = [placeholder.flat_values, *placeholder.nested_row_splits]
    return dict(zip(holders, parts, strict=True))


@contextlib.contextmanager
def eval_function_for_module(
    spec: ModuleSpec | str | os.PathLike[str], tags: Tags = None
) -> Iterator[Callable[..., Any]]:
    """Yields ``f(inputs=None, signature=None, as_dict=None)`` that evaluates the module's
    signatures on values (numpy arrays, lists, ``SparseTensorValue`` s) and returns values.

    The module is instantiated in a graph and session of its own (variables and tables
    initialised), closed when the context exits. Works in TF1 graph mode and in eager TF2.

    Example:
        >>> with tfhub.eval_function_for_module("/path/to/module") as f:  # doctest: +SKIP
        ...     embeddings = f(["hello world"])
    """
    compat = v1()
    with tf().Graph().as_default() as graph:
        module = Module(spec, tags=tags)
        endpoints = _endpoints(module)
        init = [compat.global_variables_initializer(), compat.tables_initializer()]
        graph.finalize()
    with compat.Session(graph=graph) as session:
        session.run(init)

        def evaluate(
            inputs: Any = None, _sentinel: None = None, signature: str | None = None,
            as_dict: bool | None = None,
        ) -> Any:  # fmt: skip
            name = signature or "default"
            module.get_input_info_dict(name)  # ModuleLookupError for an unknown signature
            placeholders, outputs = endpoints[name]
            feed: dict[Any, Any] = {}
            for key, value in named_inputs(inputs, placeholders, name).items():
                feed.update(_feeds(placeholders[key], value))
            if not as_dict and "default" not in outputs:
                raise ModuleCallError(
                    f"Signature {name!r} has no output named 'default'; call with as_dict=True."
                )
            return session.run(outputs if as_dict else outputs["default"], feed_dict=feed)

        yield evaluate
