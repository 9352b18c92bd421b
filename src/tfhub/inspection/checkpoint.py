"""Whether a model's checkpoint (``variables/variables.index`` and its ``.data-*`` shards) is
there to restore the variables ``saved_model.pb`` declares, read without TensorFlow.

A TF2 SavedModel always needs its checkpoint (TensorFlow restores the object graph from it,
even for a model without variables); TF1 formats need it when they list variables. A copy
without ``variables/`` otherwise loads "fine" in TF1 (the initializers run instead) or fails
deep inside TensorFlow.

Example:
    >>> checkpoint_problem(["variables.index"], declared=2, required=False)
    'saved_model.pb declares 2 variables but the checkpoint is incomplete: \
variables/variables.data-* is missing. Copy or download the model again, with all of its \
variables/ directory.'
    >>> checkpoint_problem(["variables.index", "variables.data-00000-of-00001"], 2, True) is None
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection

from tfhub.core import formats
from tfhub.core.conventions import object_graph
from tfhub.core.hub_module import meta_graph_blobs
from tfhub.errors import ModelFormatError
from tfhub.inspection import objects
from tfhub.inspection.graph import tf1_variables

VARIABLES_DIR = "variables"
INDEX = "variables.index"
_DATA = re.compile(r"variables\.data-(\d+)-of-(\d+)")
_SHOWN = 3  # missing shards named in a message
_NO_DIR = "the variables/ directory is missing"


def missing_files(names: Collection[str]) -> list[str]:
    """The checkpoint files missing from ``variables/`` (relative to the model), given the
    names ``variables/`` holds.

    >>> missing_files(["variables.index", "variables.data-00001-of-00003"])
    ['variables/variables.data-00000-of-00003', 'variables/variables.data-00002-of-00003']
    """
    missing = [] if INDEX in names else [INDEX]
    shards = [m for m in map(_DATA.fullmatch, names) if m]
    if not shards:
        missing.append("variables.data-*")
    for total in sorted({int(m.group(2)) for m in shards}):
        present = {int(m.group(1)) for m in shards if int(m.group(2)) == total}
        missing += [f"variables.data-{i:05d}-of-{total:05d}" for i in range(total)
                    if i not in present]  # fmt: skip
    return [f"{VARIABLES_DIR}/{name}" for name in missing]


def checkpoint_problem(names: Collection[str] | None, declared: int, required: bool) -> str | None:
    """Why the checkpoint cannot restore the model's variables, or None if it is complete
    or not needed.

    Args:
        names: the file names in ``variables/``; None if there is no such directory.
        declared: how many variables ``saved_model.pb`` declares (object graph or
            collections).
        required: whether the format needs a checkpoint even without variables (TF2).
    """
    if not declared and not required:
        return None
    missing = missing_files(names if names is not None else ())
    if not missing:
        return None
    shown = ", ".join(missing[:_SHOWN])
    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    gap = f"{shown}{more} {'is' if len(missing) == 1 else 'are'} missing"
    if declared:
        plural = "" if declared == 1 else "s"
        subject = f"saved_model.pb declares {declared} variable{plural}"
        if names is None:
            why = f"{subject} but there is no checkpoint to restore them from: {_NO_DIR}"
        else:
            why = f"{subject} but the checkpoint is incomplete: {gap}"
    else:
        subject = "a TF2 SavedModel needs its checkpoint to load (even without variables)"
        why = f"{subject} but {_NO_DIR}" if names is None else f"{subject} but {gap}"
    return f"{why}. Copy or download the model again, with all of its variables/ directory."


def checkpoint_names(root: str) -> list[str] | None:
    """The file names in ``root/variables`` (None if it is not a directory)."""
    try:
        return os.listdir(os.path.join(root, VARIABLES_DIR))
    except (FileNotFoundError, NotADirectoryError):
        return None


def check_checkpoint(root: str) -> str | None:
    """Why the local model ``root`` cannot restore its variables (see
    :func:`checkpoint_problem`), or None. A complete checkpoint costs one directory listing;
    ``saved_model.pb`` is read only when files are missing.

    Raises:
        ModelNotFoundError, ModelFormatError: ``root`` holds no model, or a damaged
            ``saved_model.pb``.
    """
    names = checkpoint_names(root)
    if names is not None and not missing_files(names):
        return None
    found, data = formats.read_saved_model(root)
    try:
        declared = declared_variables(found.kind, data)
    except ModelFormatError:
        raise
    except (TypeError, ValueError, KeyError, IndexError) as e:  # hostile or damaged bytes
        path = os.path.join(root, formats.SAVED_MODEL_PB)
        raise ModelFormatError(f"{path} is damaged: {e}") from e
    return checkpoint_problem(names, declared, required=found.kind == formats.TF2_SAVED_MODEL)


def declared_variables(kind: str, saved_model: bytes) -> int:
    """How many variables a serialized SavedModel of format ``kind`` declares: the
    variables of its object graph (TF2), else of its ``variables`` collections."""
    blobs = meta_graph_blobs(saved_model)
    if kind == formats.TF2_SAVED_MODEL:
        graph = object_graph(blobs)
        return len(objects.variables(graph[0])) if graph else 0
    return len(tf1_variables(blobs))
