"""``tfhub.inspect(handle)``: what a model is and how to use it, read without TensorFlow.

The report (:class:`InspectReport`) gives the format, graph variants, signatures, the
Reusable SavedModel attributes, variables and checkpoint size, assets, attached messages,
the op libraries the model needs and its risky ops (``tfhub.inspection.scan``), and this
model's compatibility table. ``tfhub inspect HANDLE [--json]`` prints it.

Example:
    >>> report = tfhub.inspect("https://hub.example.com/models/encoder/1")  # doctest: +SKIP
    >>> report.format, [s.name for s in report.graph_variants[0].signatures]  # doctest: +SKIP
    ('tf2-saved-model', ['serving_default'])
    >>> print(report.compatibility.fine_tune.keras3.call)  # doctest: +SKIP
    layer = tfhub.KerasLayer('https://hub.example.com/models/encoder/1', trainable=True)
"""

from __future__ import annotations

import os

from tfhub._version import __version__
from tfhub.core.formats import SAVED_MODEL_PB, read_saved_model
from tfhub.core.handle import redact_url
from tfhub.errors import HandleError
from tfhub.inspection.checkpoint import checkpoint_names, checkpoint_problem
from tfhub.inspection.compat import compatibility_table, with_compatibility
from tfhub.inspection.read import model_contents
from tfhub.inspection.report import (
    SCHEMA,
    TF1_HUB_MODULE,
    TF1_SAVED_MODEL,
    CompatTable,
    InspectReport,
    ModelContents,
)
from tfhub.inspection.scan import scan_saved_model

__all__ = [
    "SCHEMA",
    "CompatTable",
    "InspectReport",
    "compatibility_table",
    "inspect",
    "inspect_path",
    "with_compatibility",
]


def inspect(handle: str | os.PathLike[str]) -> InspectReport:
    """Resolves ``handle`` (downloading it into the cache if needed) and inspects the model.

    Args:
        handle: anything :func:`tfhub.resolve` accepts.

    Returns:
        The :class:`InspectReport`; its ``handle`` is ``handle`` (credentials removed).

    Raises:
        HandleError, ModelNotFoundError, DownloadError, ...: as :func:`tfhub.resolve`.
        ModelFormatError: the handle names something that is not a model tfhub can read.

    Example:
        >>> tfhub.inspect("/models/encoder").variables.count  # doctest: +SKIP
        4
    """
    from tfhub.hub import resolve

    path = resolve(handle)
    return inspect_path(path, handle=redact_url(os.fspath(handle)))


def inspect_path(model_dir: str | os.PathLike[str], handle: str | None = None) -> InspectReport:
    """Inspects the model in the local directory ``model_dir``.

    Args:
        model_dir: a TF2 SavedModel, TF1 Hub module or TF1 SavedModel directory.
        handle: how users name the model (default: the directory); the calls of the
            compatibility table use it.

    Raises:
        ModelNotFoundError: ``model_dir`` is not a directory.
        ModelFormatError: it holds no model tfhub can read (the message says what it holds).
    """
    path = os.fspath(model_dir)
    if "://" in path:
        raise HandleError(
            f"Cannot inspect {path} in place: inspecting reads local files. Unset "
            "TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED to download the model, or inspect a copy."
        )
    path = os.path.abspath(path)
    found, data = read_saved_model(path)  # saved_model.pb is read once
    contents = model_contents(found, data)
    report = InspectReport(
        schema=SCHEMA,
        tfhub_version=__version__,
        handle=handle,
        path=path,
        scan=scan_saved_model(data, os.path.join(path, SAVED_MODEL_PB)),
        problems=_problems(path, contents),
        **contents.field_values(),
    )
    return with_compatibility(report)


def _problems(path: str, contents: ModelContents) -> tuple[str, ...]:
    """What keeps the model from loading as it is: a missing or incomplete checkpoint."""
    tf2 = contents.format not in (TF1_HUB_MODULE, TF1_SAVED_MODEL)
    problem = checkpoint_problem(checkpoint_names(path), contents.variables.count, required=tf2)
    return (f"The model is damaged: {problem}",) if problem else ()
