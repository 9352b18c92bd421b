"""Copy-paste code for a published model: TF2, TF1 compatibility mode and Keras 3.

One module for the JSON API (a version's ``snippets``) and the model pages. The code
follows the model's inspection report and its compatibility table
(:func:`tfhub.inspection.with_compatibility`, rebuilt for the hub URL ``handle``): it
calls the model the way the table says works (``__call__``, or a signature and output
key for models without one, such as Keras 3 exports), and says when fine-tuning is not
supported and why. Example inputs (zeros) are built from the model's input specs, so a
snippet runs as it is wherever they are all dense tensors.

Example:
    >>> code = model_snippets(None, "tf2-saved-model", "http://hub/acme/enc/1")
    >>> [s.key for s in code], [s.element for s in code]
    (['tf2', 'tf1_compat', 'keras3'], ['tf2', 'tf1', 'keras3'])
    >>> print(code[0].code.splitlines()[2])
    model = tfhub.load('http://hub/acme/enc/1')
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from tfhub.inspection.compat import pick_signature
from tfhub.inspection.report import (
    TF1_HUB_MODULE,
    CompatCell,
    InspectReport,
    TensorInfo,
)

_TF1_PREAMBLE = "import tensorflow.compat.v1 as tf\n\ntf.disable_v2_behavior()\n"
_TF1_SESSION = """with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.tables_initializer()])
    print(sess.run(outputs))
"""
_EXAMPLE = "  # example inputs: use yours"
_DTYPES = frozenset(
    {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
     "uint16", "uint32", "uint64", "bool", "string", "complex64", "complex128"}
)  # fmt: skip
_WIDTH = 88


@dataclass(frozen=True)
class Snippet:
    """One block of code: ``key`` in the JSON API, ``element`` in the page's element ids
    (``snippet-<element>``), a heading and the code."""

    key: str
    element: str
    title: str
    code: str


def as_dict(snippets: Iterable[Snippet]) -> dict[str, str]:
    """The snippets as the JSON API gives them: ``{"tf2": code, "tf1_compat": ..., ...}``."""
    return {s.key: s.code for s in snippets}


def model_snippets(report: InspectReport | None, kind: str, handle: str) -> tuple[Snippet, ...]:
    """The TF2, TF1 compatibility mode and Keras 3 snippets for the model at ``handle``.

    Args:
        report: its inspection report with the compatibility table built for ``handle``;
            None for a version published without one (older hubs): the snippets then
            only load it and point to ``tfhub inspect``.
        kind: the stored format (used only without a report).
        handle: the model's URL.
    """
    if report is None or report.compatibility is None:
        return _without_report(kind, repr(handle))
    return _Writer(report, repr(handle)).snippets()


def _three(tf2: str, tf1: str, keras3: str) -> tuple[Snippet, ...]:
    return (
        Snippet("tf2", "tf2", "TF2", tf2),
        Snippet("tf1_compat", "tf1", "TF1 compatibility mode", tf1),
        Snippet("keras3", "keras3", "Keras 3", keras3),
    )


def _without_report(kind: str, h: str) -> tuple[Snippet, ...]:
    see = f"# `tfhub inspect {h[1:-1]}` shows how to call it"
    load = f"hub.Module({h})" if kind == TF1_HUB_MODULE else f"tfhub.load({h})"
    return _three(
        f"import tfhub\n\nmodel = tfhub.load({h})\n{see}\n",
        f"{_TF1_PREAMBLE}import tfhub{' as hub' if kind == TF1_HUB_MODULE else ''}\n\n"
        f"model = {load}\n{see}\n",
        f"import tfhub\n\n{see}, and the KerasLayer arguments it needs\n",
    )


def statements(call: str) -> list[str]:
    """A compatibility table call (``a = f(x); b = a(y)``) as its statements.

    >>> statements("m = f('a; b'); out = m(x)")
    ["m = f('a; b')", 'out = m(x)']
    """
    parts, start, quote = [], 0, ""
    for i, ch in enumerate(call):
        if quote:
            quote = "" if ch == quote and call[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif call.startswith("; ", i):
            parts.append(call[start:i])
            start = i + 2
    parts.append(call[start:])
    return [p.strip() for p in parts if p.strip()]


def comment(text: str, prefix: str = "# ") -> str:
    """``text`` as wrapped comment lines (backticks dropped)."""
    lines = textwrap.wrap(text.replace("`", ""), _WIDTH - len(prefix))
    return "\n".join(prefix + line for line in lines)


def example(tensor: TensorInfo) -> str | None:
    """Python code for a tensor of zeros that fits ``tensor``, or None (not dense, or of
    unknown rank or dtype).

    >>> example(TensorInfo("x", "dense", "float32", (None, 3)))
    'tf.zeros([1, 3], tf.float32)'
    """
    if tensor.kind != "dense" or tensor.shape is None or tensor.dtype not in _DTYPES:
        return None
    dims = [1 if d is None or d < 0 else d for d in tensor.shape]
    return f"tf.zeros({dims}, tf.{tensor.dtype})"


def _describe(tensor: TensorInfo) -> str:
    kind = {"sparse": "a tf.SparseTensor", "ragged": "a tf.RaggedTensor"}.get(
        tensor.kind, "a tensor"
    )
    shape = "unknown rank" if tensor.shape is None else str(list(tensor.shape))
    return f"{kind} ({tensor.dtype}, {shape.replace('None', '?')})"


def _dict_inputs(tensors: tuple[TensorInfo, ...]) -> str:
    items = [(t, example(t)) for t in tensors]
    if not items:
        return "inputs = {}  # the signature takes no inputs"
    if all(code is not None for _, code in items):
        line = "inputs = {" + ", ".join(f"{t.name!r}: {c}" for t, c in items) + "}" + _EXAMPLE
        if len(line) <= _WIDTH:
            return line
    lines = ["inputs = {" + _EXAMPLE]
    for tensor, code in items:
        lines.append(
            f"    {tensor.name!r}: {code},"
            if code
            else f"    {tensor.name!r}: ...,  # {_describe(tensor)}"
        )
    return "\n".join([*lines, "}"])


def _tensor_inputs(tensors: tuple[TensorInfo, ...]) -> str:
    code = example(tensors[0]) if len(tensors) == 1 else None
    if code is not None:
        return f"inputs = {code}{_EXAMPLE}"
    what = _describe(tensors[0]) if len(tensors) == 1 else "what the model's __call__ takes"
    return f"inputs = ...  # {what} (tfhub inspect lists its traced inputs)"


class _Writer:
    """Writes the three snippets of one report."""

    def __init__(self, report: InspectReport, h: str) -> None:
        assert report.compatibility is not None
        self.report, self.h, self.table = report, h, report.compatibility
        self.module = report.format == TF1_HUB_MODULE
        reusable = report.reusable
        self.callable = not self.module and reusable is not None and reusable.call
        preferred = "default" if self.module else "serving_default"
        self.signature = None if self.callable else pick_signature(report, preferred)

    def snippets(self) -> tuple[Snippet, ...]:
        return _three(self.tf2(), self.tf1(), self.keras3())

    def inputs(self) -> str:
        """The line(s) defining ``inputs``: a tensor for ``__call__``, else a dict of the
        signature's named inputs."""
        if self.callable:
            traces = self.report.reusable.call_traces if self.report.reusable else ()
            traced = next((t for t in traces if t.training is not True), None)
            if traced is not None and traced.inputs:
                return _tensor_inputs(traced.inputs)
            return "inputs = ...  # what the model's __call__ takes"
        if self.signature is None:
            return ""
        return _dict_inputs(self.signature.inputs)

    def tf2(self) -> str:
        load = self.table.load.tf1_compat  # the same calls run eagerly in TF2
        if self.module:
            sig = self.signature.name if self.signature else "default"
            body = [
                f"model = tfhub.load({self.h})",
                f"outputs = model.signatures[{sig!r}](**inputs)",
            ]
        else:
            body = statements(load.call)
        lines = ["import tensorflow as tf", "import tfhub", "", *self._with_inputs(body)]
        tune = self.table.fine_tune.tf2_tf_keras
        if self.module and tune.works:
            lines.append(f"# to fine-tune it in TF2: tfhub.load({self.h}, trainable=True)")
        elif self.callable and tune.works:
            lines.append("# while fine-tuning: model(inputs, training=True)")
        only = " (inference only)" if self.module else ""
        lines += ["", f"# The original library loads it too{only}:", "import tensorflow_hub as hub"]
        lines += ["", f"model = hub.load({self.h})"]
        return "\n".join(lines) + "\n"

    def tf1(self) -> str:
        cell = self.table.load.tf1_compat
        name = "tfhub as hub" if self.module else "tfhub"
        head = f"{_TF1_PREAMBLE}import {name}\n\n"
        if not cell.works:
            return head + _refused("Loading", cell) + "\n"
        body = statements(cell.call)
        if self.module:  # hub.Module, as in code written for the original library
            body = [s.replace("tfhub.Module(", "hub.Module(") for s in body]
            tune = self.table.fine_tune.tf1_compat
            if tune.works:
                body.append(f"# to fine-tune: {tune.call.replace('tfhub.Module(', 'hub.Module(')}")
        code = "\n".join(self._with_inputs(body)) + "\n"
        return head + code + (_TF1_SESSION if "outputs" in code else "")

    def keras3(self) -> str:
        cell, tune = self.table.load.keras3, self.table.fine_tune.keras3
        lines = ["import tensorflow as tf", "import tfhub", ""]
        if cell.works:
            lines += self._with_inputs([*statements(cell.call), "outputs = layer(inputs)"])
        else:
            lines.append(_refused("Loading", cell))
        if tune.works:
            lines.append(f"# to fine-tune: {tune.call}")
        elif cell.works:
            lines.append(_refused("Fine-tuning", tune))
        return "\n".join(lines) + "\n"

    def _with_inputs(self, body: list[str]) -> list[str]:
        """``body`` preceded by the example inputs if it uses ``inputs``."""
        inputs = self.inputs()
        uses = any("inputs" in s.split("=", 1)[-1] for s in body if not s.startswith("#"))
        return [inputs, *body] if uses and inputs else body


def _refused(what: str, cell: CompatCell) -> str:
    return comment(f"{what} is not supported here: {cell.note or 'see tfhub inspect'}")
