"""Turning TensorFlow's bare "Op type not registered" into an error that says what to install."""

from __future__ import annotations

import re

from tfhub.errors import MissingOpError
from tfhub.inspection.ops import package_for_op

_NOT_REGISTERED = re.compile(r"Op type not registered '([^']+)'")


def missing_op_error(message: str, label: str) -> MissingOpError | None:
    """A :class:`~tfhub.MissingOpError` for TF's "Op type not registered" message, else None."""
    match = _NOT_REGISTERED.search(message)
    if match is None:
        return None
    op = match.group(1)
    package = package_for_op(op)
    hint = (
        f"It is usually provided by the {package} package: pip install {package} and import it "
        "(e.g. `import tensorflow_text`) before loading."
        if package
        else "Install and import the package that defines this op before loading."
    )
    return MissingOpError(f"{label} uses the TensorFlow op {op!r}, which is not registered. {hint}")
