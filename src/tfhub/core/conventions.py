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
from dataclasses import dataclass, field

from tfhub.core.formats import SAVED_MODEL_PB, TF2_SAVED_MODEL, detect_format
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


def object_graph_nodes(saved_model: bytes | memoryview) -> list[memoryview] | None:
    """The ``SavedObject`` nodes of the first MetaGraph of a serialized SavedModel that has an
    object graph (node 0 is the root), or None for a TF1 SavedModel."""
    for n, meta_graph in fields(saved_model):
        if n != 2:
            continue
        for m, value in fields(message(meta_graph)):
            if m == 7:
                return [message(v) for k, v in fields(message(value)) if k == 1]
    return None


def _object_graph(path: str) -> list[memoryview]:
    with open(os.path.join(path, SAVED_MODEL_PB), "rb") as f:
        nodes = object_graph_nodes(f.read())
    if nodes is None:
        raise ModelFormatError(f"{path} has no object graph: it is not a TF2 SavedModel.")
    return nodes


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
    """What the root object of a TF2 SavedModel has, as the conventions name it: whether
    ``__call__`` is a ``tf.function`` and takes ``training``, and the length of each list
    attribute (None when the attribute is missing)."""

    has_call: bool
    call_is_function: bool
    call_accepts_training: bool
    variables: int | None
    trainable_variables: int | None
    regularization_losses: int | None


def root_attributes(nodes: list[memoryview]) -> RootAttributes:
    """The :class:`RootAttributes` of an object graph (see :func:`object_graph_nodes`)."""
    root = children(nodes[0])
    call = root.get("__call__")
    kind, body = node_kind(nodes[call]) if call is not None else (0, None)
    is_function = kind == 6 and body is not None
    lengths = {
        name: (len(children(nodes[root[name]])) if name in root else None)
        for name in ("variables", "trainable_variables", "regularization_losses")
    }
    return RootAttributes(
        has_call=call is not None,
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
    found = detect_format(root_dir)
    if found.kind != TF2_SAVED_MODEL:
        raise ModelFormatError(f"{root_dir} is a {found.kind}, not a TF2 SavedModel.")
    return assess(root_dir, root_attributes(_object_graph(root_dir)))


def assess(path: str, attributes: RootAttributes) -> ConventionReport:
    """The :class:`ConventionReport` for a root with these attributes (what is missing)."""
    report = ConventionReport(path)
    if not attributes.has_call:
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
