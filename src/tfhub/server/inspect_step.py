"""The inspection step of publishing: what kind of model a folder holds, and its report.

Every version is published with the full ``tfhub inspect`` report (signatures, variables,
risky-op scan, compatibility table) from :func:`tfhub.inspection.inspect_path`. This step
fails closed: a folder that is not a model (422 ``not_a_model``) and a model the inspector
cannot read (422 ``uninspectable_model``) are refused, so nothing is ever published
unscanned. Messages name the upload, never the server's scratch folder.

Example:
    >>> import tempfile
    >>> try:
    ...     inspect_model(tempfile.mkdtemp(), "the upload to acme/enc")
    ... except ServerError as e:
    ...     print(e.status, e.code, e.message.split(" (")[0])
    422 not_a_model Not a model: the upload to acme/enc has no saved_model.pb
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from tfhub import inspection
from tfhub.core.formats import detect_format
from tfhub.errors import ModelFormatError, ModelNotFoundError, ServerError
from tfhub.server.public_errors import hide_paths

logger = logging.getLogger("tfhub.server")


@dataclass(frozen=True)
class Inspected:
    """The model's format, as ``tfhub inspect`` names it (``tf2-saved-model``,
    ``keras-saved-model``, ...), and its JSON-able report."""

    format: str
    report: dict[str, Any]


def inspect_model(path: str, name: str) -> Inspected:
    """Checks that ``path`` holds a model and inspects it; ``name`` says what the upload
    is in messages (``the upload to acme/encoder``).

    Raises:
        ServerError: 422 ``not_a_model`` (not a TF2 SavedModel, TF1 Hub module or TF1
            SavedModel), 422 ``uninspectable_model`` (damaged, or the inspector failed).
    """
    try:
        detect_format(path)
    except (ModelFormatError, ModelNotFoundError) as e:
        raise ServerError(hide_paths(str(e), [path], name), status=422, code="not_a_model") from e
    try:
        report = inspection.inspect_path(path)
    except Exception as e:
        raise _uninspectable(e, path, name) from e
    # The scratch folder is meaningless and not public; the compatibility table is rebuilt
    # with the hub's URL of the version whenever it is shown.
    stored = dataclasses.replace(report, path="", handle=None, compatibility=None)
    return Inspected(report.format, stored.to_dict())


def _uninspectable(error: Exception, path: str, name: str) -> ServerError:
    if isinstance(error, ModelFormatError):
        why = hide_paths(str(error), [path], "the upload")
    else:  # a bug of the inspector: the log has the details, the publisher a summary
        logger.error("Inspecting %s failed", name, exc_info=error)
        why = f"the inspector failed ({type(error).__name__}); the hub's log says why"
    return ServerError(
        f"Cannot inspect {name}: {why.rstrip('.')}. It was not published: every model is "
        "inspected, and scanned for risky ops, first. Check it with `tfhub inspect DIR`.",
        status=422,
        code="uninspectable_model",
    )
