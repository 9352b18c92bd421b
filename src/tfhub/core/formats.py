"""Which kind of model a directory holds, read without TensorFlow.

* ``tf2-saved-model``: ``saved_model.pb`` whose MetaGraph carries an object graph
  (written by ``tf.saved_model.save``), loaded with ``tfhub.load`` / ``KerasLayer``.
* ``tf1-hub-module``: ``tfhub_module.pb`` beside ``saved_model.pb`` (the TF1 Hub format),
  one MetaGraph per graph variant (tag set; inference = empty set).
* ``tf1-saved-model``: ``saved_model.pb`` without an object graph (``SavedModelBuilder``).

Example:
    >>> import tempfile
    >>> try:
    ...     detect_format(tempfile.mkdtemp())
    ... except ModelFormatError as e:
    ...     print(str(e).split(":")[0])
    Not a model
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tfhub.core.wire import fields, message, text
from tfhub.errors import ModelFormatError, ModelNotFoundError

TF2_SAVED_MODEL = "tf2-saved-model"
TF1_HUB_MODULE = "tf1-hub-module"
TF1_SAVED_MODEL = "tf1-saved-model"

SAVED_MODEL_PB = "saved_model.pb"
HUB_MODULE_PB = "tfhub_module.pb"


@dataclass(frozen=True)
class MetaGraphSummary:
    """One MetaGraph of ``saved_model.pb``: its tags, signatures and whether it has an
    object graph (TF2)."""

    tags: frozenset[str]
    signatures: tuple[str, ...]
    has_object_graph: bool


@dataclass(frozen=True)
class ModelFormat:
    """What :func:`detect_format` found."""

    kind: str
    path: str
    meta_graphs: tuple[MetaGraphSummary, ...] = field(default=())

    @property
    def tag_sets(self) -> list[frozenset[str]]:
        return [m.tags for m in self.meta_graphs]


def _summarise(meta_graph: memoryview) -> MetaGraphSummary:
    tags: list[str] = []
    signatures: list[str] = []
    has_objects = False
    for number, value in fields(meta_graph):
        if number == 1:  # meta_info_def
            tags += [text(v) for n, v in fields(message(value)) if n == 4]
        elif number == 5:  # signature_def map entry: key=1
            signatures += [text(v) for n, v in fields(message(value)) if n == 1]
        elif number == 7:  # object_graph_def
            has_objects = any(n == 1 for n, _ in fields(message(value)))
    return MetaGraphSummary(frozenset(tags), tuple(sorted(signatures)), has_objects)


def read_model_file(path: str) -> bytes:
    """The bytes of one of a model's files (``saved_model.pb``, ``tfhub_module.pb``).

    Raises:
        ModelFormatError: the file cannot be read (the message names it and says why).

    Example:
        >>> read_model_file("/nothing/x.pb")
        Traceback (most recent call last):
        ...
        tfhub.errors.ModelFormatError: Cannot read /nothing/x.pb: No such file or directory.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ModelFormatError(f"Cannot read {path}: {e.strerror}.") from e


def detect_format(path: str | os.PathLike[str]) -> ModelFormat:
    """Detects the model format of a local directory.

    Raises:
        ModelNotFoundError: ``path`` does not exist.
        ModelFormatError: ``path`` holds no model (the message lists what it does hold).
    """
    return read_saved_model(path)[0]


def read_saved_model(path: str | os.PathLike[str]) -> tuple[ModelFormat, bytes]:
    """What :func:`detect_format` finds, and the bytes of ``saved_model.pb`` it read, for
    callers that go on to parse more of the file (read once).

    Raises:
        ModelNotFoundError, ModelFormatError: as :func:`detect_format`.
    """
    root = os.fspath(path)
    saved_model = _saved_model_pb(root)
    data = read_model_file(saved_model)
    try:
        meta_graphs = tuple(_summarise(message(v)) for n, v in fields(data) if n == 2)
    except ModelFormatError as e:
        raise ModelFormatError(f"{saved_model} is damaged: {e}") from e
    if not meta_graphs:
        raise ModelFormatError(f"{saved_model} holds no MetaGraph; the model is damaged.")
    if os.path.isfile(os.path.join(root, HUB_MODULE_PB)):
        kind = TF1_HUB_MODULE
    elif any(m.has_object_graph for m in meta_graphs):
        kind = TF2_SAVED_MODEL
    else:
        kind = TF1_SAVED_MODEL
    return ModelFormat(kind, root, meta_graphs), data


def is_hub_module(path: str | os.PathLike[str]) -> bool:
    """Whether a local model directory holds a TF1 Hub module, from its file names only
    (what loading needs to know before TensorFlow reads ``saved_model.pb``; the TF1/TF2
    SavedModel distinction would take reading it).

    Raises:
        ModelNotFoundError, ModelFormatError: as :func:`detect_format`, for a missing
            directory or one without ``saved_model.pb`` (its content is not checked).
    """
    root = os.fspath(path)
    _saved_model_pb(root)
    return os.path.isfile(os.path.join(root, HUB_MODULE_PB))


def _saved_model_pb(root: str) -> str:
    """The path of ``root``'s ``saved_model.pb``, or the error that says what is missing."""
    if not os.path.isdir(root):
        raise ModelNotFoundError(f"No model at {root}: not a directory.")
    saved_model = os.path.join(root, SAVED_MODEL_PB)
    if not os.path.isfile(saved_model):
        found = sorted(os.listdir(root))[:10]
        raise ModelFormatError(
            f"Not a model: {root} has no {SAVED_MODEL_PB} (found: {', '.join(found) or 'nothing'})."
            f" Expected a TF2 SavedModel or a TF1 Hub module ({HUB_MODULE_PB} + {SAVED_MODEL_PB})."
        )
    return saved_model
