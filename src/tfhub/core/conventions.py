"""Checks a TF2 SavedModel against the Reusable SavedModel conventions, without TensorFlow.

A reusable SavedModel's root object has:

* ``__call__(inputs, training=...)``: a ``tf.function``; ``training`` is optional but needed
  for models that behave differently in training (dropout, batch norm);
* ``variables`` and ``trainable_variables``: lists of the model's variables (a plain
  ``tf.Module`` root does *not* save them: they are properties, not attributes);
* ``regularization_losses``: a list of ``tf.function`` s taking no arguments, each returning
  a scalar loss (may be empty).

Example:
    >>> report = check_reusable_saved_model("/path/to/saved_model")  # doctest: +SKIP
    >>> report.ok, report.problems  # doctest: +SKIP
    (False, ['the root has no `variables` attribute ...'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from tfhub.core.formats import TF2_SAVED_MODEL, read_saved_model
from tfhub.core.hub_module import meta_graph_blobs
from tfhub.core.wire import Value, fields, message, text
from tfhub.errors import ModelFormatError

_FIX_VARIABLES = (
    "a plain tf.Module root loses `.variables`/`.trainable_variables` on save because they "
    "are properties; set them as attributes on the saved root, e.g. "
    "`root = tf.train.Checkpoint(); root.variables = list(module.variables)`, "
    "or save a Keras model"
)


@dataclass
class ConventionReport:
    """The outcome of :func:`check_reusable_saved_model`."""

    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    call_accepts_training: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"{self.path}: {'meets' if self.ok else 'does not meet'} the conventions"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def object_graph(
    meta_graphs: Iterable[memoryview],
) -> tuple[list[memoryview], dict[str, memoryview]] | None:
    """The object graph of the first MetaGraph that has one: its ``SavedObject`` nodes (the
    root first) and its concrete functions by name (``SavedConcreteFunction``); None for
    TF1 formats."""
    for meta_graph in meta_graphs:
        for number, value in fields(meta_graph):
            if number != 7:
                continue
            nodes, concrete = [], {}
            for n, entry in fields(message(value)):
                if n == 1:
                    nodes.append(message(entry))
                elif n == 2:
                    item = dict(fields(message(entry)))
                    name = text(item.get(1, memoryview(b"")))
                    concrete[name] = message(item.get(2, memoryview(b"")))
            if nodes:
                return nodes, concrete
    return None


def children(node: memoryview) -> dict[str, int]:
    """A ``SavedObject``'s children: local name -> node id."""
    found = {}
    for n, value in fields(node):
        if n == 1:
            ref = dict(fields(message(value)))
            found[text(ref.get(2, memoryview(b"")))] = int(ref.get(1, 0))
    return found


def node_kind(node: memoryview) -> tuple[int, memoryview | None]:
    """A ``SavedObject``'s ``kind`` field number (4 user object, 6 function, 7 variable,
    ...) and its message; ``(0, None)`` if it has none."""
    for n, value in fields(node):
        if n in (4, 5, 6, 7, 8, 9, 10, 12):
            return n, message(value)
    return 0, None


def _string_leaves(structured: Value) -> list[str]:
    """Every ``string_value`` (field 13) in a StructuredValue tree."""
    found: list[str] = []
    for n, value in fields(message(structured)):
        if n == 13:
            found.append(text(value))
        elif n in (51, 52, 53, 54):  # list, tuple, dict, named tuple
            for m, inner in fields(message(value)):
                if m == 1 and n in (51, 52):
                    found += _string_leaves(inner)
                elif (n, m) in ((53, 1), (54, 2)):  # dict entries / named tuple values
                    found += _pair_leaves(inner)
    return found


def _pair_leaves(pair: Value) -> list[str]:
    found: list[str] = []
    for n, value in fields(message(pair)):
        if n == 1 and not isinstance(value, int):
            found.append(text(value))
        elif n == 2:
            found += _string_leaves(value)
    return found


def arg_names(function: memoryview) -> list[str]:
    """The argument names of a ``SavedFunction`` (from its ``FullArgSpec``)."""
    for n, spec in fields(function):
        if n == 2:  # function_spec
            for m, fullargspec in fields(message(spec)):
                if m == 1:
                    return _string_leaves(fullargspec)
    return []


@dataclass(frozen=True)
class RootAttributes:
    """What the root object of a TF2 SavedModel has, as the conventions name it: the node id
    of ``__call__`` (None when missing), whether it is a ``tf.function`` and takes
    ``training``, and the length of each list attribute (None when the attribute is missing)."""

    call: int | None
    call_is_function: bool
    call_accepts_training: bool
    variables: int | None
    trainable_variables: int | None
    regularization_losses: int | None


def root_attributes(nodes: list[memoryview]) -> RootAttributes:
    """The :class:`RootAttributes` of an object graph's nodes (see :func:`object_graph`)."""
    root = children(nodes[0])
    call = root.get("__call__")
    kind, body = node_kind(nodes[call]) if call is not None else (0, None)
    is_function = kind == 6 and body is not None
    lengths = {
        name: (len(children(nodes[root[name]])) if name in root else None)
        for name in ("variables", "trainable_variables", "regularization_losses")
    }
    return RootAttributes(
        call=call,
        call_is_function=is_function,
        call_accepts_training=is_function and body is not None and "training" in arg_names(body),
        **lengths,
    )


def check_reusable_saved_model(path: str | os.PathLike[str]) -> ConventionReport:
    """Tells whether the SavedModel at ``path`` meets the Reusable SavedModel conventions.

    Raises:
        ModelFormatError: ``path`` is not a TF2 SavedModel.
    """
    root_dir = os.fspath(path)
    found, data = read_saved_model(root_dir)
    if found.kind != TF2_SAVED_MODEL:
        raise ModelFormatError(f"{root_dir} is a {found.kind}, not a TF2 SavedModel.")
    graph = object_graph(meta_graph_blobs(data))
    if graph is None:
        raise ModelFormatError(f"{root_dir} has no object graph: it is not a TF2 SavedModel.")
    return assess(root_dir, root_attributes(graph[0]))


def assess(path: str, attributes: RootAttributes) -> ConventionReport:
    """The :class:`ConventionReport` for a root with these attributes (what is missing)."""
    report = ConventionReport(path)
    if attributes.call is None:
        report.problems.append("the root has no `__call__`: save a tf.function as __call__")
    elif not attributes.call_is_function:
        report.problems.append("`__call__` is not a tf.function with a traced signature")
    else:
        report.call_accepts_training = attributes.call_accepts_training
        if not report.call_accepts_training:
            report.notes.append(
                "`__call__` takes no `training` argument: fine for models without "
                "dropout or batch norm; KerasLayer will not pass one"
            )
    for name in ("variables", "trainable_variables"):
        if getattr(attributes, name) is None:
            report.problems.append(f"the root has no `{name}` attribute: {_FIX_VARIABLES}")
    if attributes.regularization_losses is None:
        report.notes.append(
            "the root has no `regularization_losses` list: none will be added when fine-tuning"
        )
    return report
