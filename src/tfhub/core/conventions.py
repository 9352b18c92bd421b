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


def _object_graph(path: str) -> list[memoryview]:
    with open(os.path.join(path, SAVED_MODEL_PB), "rb") as f:
        data = f.read()
    for n, meta_graph in fields(data):
        if n != 2:
            continue
        for m, value in fields(message(meta_graph)):
            if m == 7:
                return [message(v) for k, v in fields(message(value)) if k == 1]
    raise ModelFormatError(f"{path} has no object graph: it is not a TF2 SavedModel.")


def _children(node: memoryview) -> dict[str, int]:
    children = {}
    for n, value in fields(node):
        if n == 1:
            ref = dict(fields(message(value)))
            children[text(ref.get(2, memoryview(b"")))] = int(ref.get(1, 0))
    return children


def _kind(node: memoryview) -> tuple[int, memoryview | None]:
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


def _arg_names(function: memoryview) -> list[str]:
    for n, spec in fields(function):
        if n == 2:  # function_spec
            for m, fullargspec in fields(message(spec)):
                if m == 1:
                    return _string_leaves(fullargspec)
    return []


def check_reusable_saved_model(path: str | os.PathLike[str]) -> ConventionReport:
    """Tells whether the SavedModel at ``path`` meets the Reusable SavedModel conventions.

    Raises:
        ModelFormatError: ``path`` is not a TF2 SavedModel.
    """
    root_dir = os.fspath(path)
    found = detect_format(root_dir)
    if found.kind != TF2_SAVED_MODEL:
        raise ModelFormatError(f"{root_dir} is a {found.kind}, not a TF2 SavedModel.")
    nodes = _object_graph(root_dir)
    report = ConventionReport(root_dir)
    root = _children(nodes[0])
    call = root.get("__call__")
    if call is None:
        report.problems.append("the root has no `__call__`: save a tf.function as __call__")
    else:
        kind, body = _kind(nodes[call])
        if kind != 6 or body is None:
            report.problems.append("`__call__` is not a tf.function with a traced signature")
        else:
            report.call_accepts_training = "training" in _arg_names(body)
            if not report.call_accepts_training:
                report.notes.append(
                    "`__call__` takes no `training` argument: fine for models without "
                    "dropout or batch norm; KerasLayer will not pass one"
                )
    for name in ("variables", "trainable_variables"):
        if name not in root:
            report.problems.append(f"the root has no `{name}` attribute: {_FIX_VARIABLES}")
    if "regularization_losses" not in root:
        report.notes.append(
            "the root has no `regularization_losses` list: none will be added when fine-tuning"
        )
    return report
