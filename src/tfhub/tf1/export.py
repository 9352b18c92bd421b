"""Writing a TF1 Hub module directory: ``saved_model.pb`` (all graph variants),
``tfhub_module.pb``, ``assets/`` and the ``variables/`` checkpoint.

A local directory is written under a temporary name beside ``path`` and renamed into place,
so a failed export leaves nothing that looks like a module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from tfhub.core.hub_module import MODULE_DEF_PB, encode_module_def
from tfhub.errors import ExportError
from tfhub.tf1._tf import proto, tf, v1
from tfhub.tf1.meta_graph import unbind_assets

VARIABLES = "variables/variables"
Saver = Callable[[str], None]
"""Writes a module's variables to a checkpoint prefix."""


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}" if "://" in root else os.path.join(root, name)


def slice_spec(variable_def: Any) -> str:
    """The ``shape_and_slices`` entry of a partitioned variable's part ("" for a whole one)."""
    info = variable_def.save_slice_info_def
    if not info.full_name:
        return ""
    ranges = ":".join(f"{o},{n}" for o, n in zip(info.var_offset, info.var_shape, strict=True))
    return " ".join(str(d) for d in info.full_shape) + " " + ranges


def save_checkpoint(prefix: str, entries: Sequence[tuple[str, str, Any, Any]]) -> None:
    """Writes a checkpoint of ``(name, slice spec, numpy value, tf.DType)`` entries at
    ``prefix``, in a graph and session of its own (the caller's graph may be finalized)."""
    t, compat = tf(), v1()
    with t.Graph().as_default() as graph:
        feeds = {compat.placeholder(dtype): value for _, _, value, dtype in entries}
        save = t.raw_ops.SaveV2(
            prefix=prefix,
            tensor_names=[entry[0] for entry in entries],
            shape_and_slices=[entry[1] for entry in entries],
            tensors=list(feeds),
        )
        with compat.Session(graph=graph) as session:
            session.run(save, feed_dict=feeds)


def session_saver(entries: Sequence[tuple[str, str, Any]], session: Any) -> Saver:
    """Saves the values in ``session`` of ``(name, slice spec, variable)`` entries."""

    def save(prefix: str) -> None:
        if entries:
            values = session.run([variable for _, _, variable in entries])
            pairs = zip(entries, values, strict=True)
            save_checkpoint(prefix, [(n, s, v, var.dtype.base_dtype) for (n, s, var), v in pairs])

    return save


def _write_files(root: str, meta_graphs: list[Any], save_variables: Saver) -> None:
    gfile = tf().io.gfile
    gfile.makedirs(_join(root, "variables"))
    files = unbind_assets(meta_graphs)
    if files:
        gfile.makedirs(_join(root, "assets"))
    for source, name in files.items():
        gfile.copy(source, _join(root, f"assets/{name}"))
    save_variables(_join(root, VARIABLES))
    saved_model = proto("protobuf.saved_model_pb2").SavedModel(saved_model_schema_version=1)
    saved_model.meta_graphs.extend(meta_graphs)
    with gfile.GFile(_join(root, "saved_model.pb"), "wb") as f:
        f.write(saved_model.SerializeToString())
    with gfile.GFile(_join(root, MODULE_DEF_PB), "wb") as f:
        f.write(encode_module_def())


def write_module(path: str, meta_graphs: list[Any], save_variables: Saver) -> None:
    """Writes a module directory at ``path`` from copies of its graph variants (edited).

    Locally the files are written beside ``path`` and renamed into place; object stores
    (``gs://``, ``s3://``), which cannot rename directories, are written in place.

    Raises:
        ExportError: ``path`` exists and is not empty, or writing failed.
    """
    t = tf()
    gfile = t.io.gfile
    if gfile.exists(path) and gfile.listdir(path):
        raise ExportError(f"Cannot export to {path}: it exists and is not empty.")
    remote = "://" in path
    staging = path if remote else f"{path.rstrip(os.sep)}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        _write_files(staging, meta_graphs, save_variables)
        if not remote:
            if gfile.exists(path):
                gfile.rmtree(path)
            gfile.rename(staging, path)
    except t.errors.OpError as e:
        raise ExportError(f"Exporting the module to {path} failed: {e.message}") from e
    finally:
        if not remote and gfile.exists(staging):
            gfile.rmtree(staging)
