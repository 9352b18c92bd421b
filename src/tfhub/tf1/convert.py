"""``tfhub.convert``: a TF1 Hub module turned, once and for all, into a TF2 Reusable SavedModel
that ``tfhub.load``, ``tfhub.KerasLayer(trainable=True)``, ``keras.layers.TFSMLayer``, the
original ``tensorflow_hub.KerasLayer`` and TF Serving use directly.

The module is loaded as a :class:`~tfhub.tf1.reusable.ReusableHubModule` (one set of
variables; the inference variant, and the ``train`` variant for ``training=True``), the
root described in :mod:`tfhub.tf1.convert_build` is saved to a temporary directory next to
the destination, checked against the source (:mod:`tfhub.tf1.convert_verify`), and only then
renamed into place. Beside the SavedModel, ``assets.extra/tfhub_convert.json`` records where it
came from and how it was verified, and ``assets.extra/tfhub_attachments.json`` holds the
module's attached messages (:func:`tfhub.tf1.convert_info.read_attachments`).

Example:
    >>> report = tfhub.convert("/models/tf1_module", "/models/tf2_model")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    >>> model = tfhub.load("/models/tf2_model")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterable
from typing import Any

from tfhub._version import __version__
from tfhub.core.formats import TF2_SAVED_MODEL, detect_format, is_hub_module
from tfhub.core.handle import redact_url
from tfhub.errors import ConvertError, ExportError
from tfhub.inspection.load_scan import check_before_load
from tfhub.tf._import import read_file
from tfhub.tf1._tf import tf
from tfhub.tf1.convert_build import SERVING_DEFAULT, build_root, serving_signatures
from tfhub.tf1.convert_info import (
    ConvertReport,
    describe_variants,
    write_attachments,
    write_provenance,
)
from tfhub.tf1.convert_verify import Verification, verify
from tfhub.tf1.reusable import ReusableHubModule, load_reusable
from tfhub.tf1.spec import ModuleSpec, load_module_spec

__all__ = ["DEFAULT_TOLERANCE", "ConvertReport", "convert"]

DEFAULT_TOLERANCE = 1e-5
logger = logging.getLogger("tfhub.convert")


def _check_source(path: str, label: str) -> None:
    """Raises :class:`ConvertError` unless ``path`` holds a TF1 Hub module."""
    if "://" in path:
        if not tf().io.gfile.exists(path.rstrip("/") + "/tfhub_module.pb"):
            raise ConvertError(f"{label} is not a TF1 Hub module (no tfhub_module.pb).")
        return
    if is_hub_module(path):
        return
    kind = detect_format(path).kind  # only to say what it is instead
    if kind == TF2_SAVED_MODEL:
        raise ConvertError(
            f"{label} is already TF2 (a TF2 SavedModel): there is nothing to convert. Load it "
            "with tfhub.load(handle) or tfhub.KerasLayer(handle)."
        )
    raise ConvertError(
        f"{label} is a TF1 SavedModel, not a TF1 Hub module (no tfhub_module.pb); "
        "tfhub convert only converts TF1 Hub modules. Load it with tfhub.load(handle)."
    )


def _check_destination(dst: str, overwrite: bool) -> None:
    if os.path.lexists(dst) and not os.path.isdir(dst):
        raise ExportError(f"Cannot convert to {dst}: it exists and is not a directory.")
    if os.path.isdir(dst) and os.listdir(dst) and not overwrite:
        raise ExportError(
            f"Cannot convert to {dst}: the directory is not empty. Choose another destination "
            "or pass --overwrite (overwrite=True) to replace it."
        )


def _check_overlap(src: str, dst: str) -> None:
    if "://" not in src:
        real_src, real_dst = os.path.realpath(src), os.path.realpath(dst)
        if os.path.commonpath([real_src, real_dst]) in (real_src, real_dst):
            raise ExportError(
                f"Cannot convert {src} to {dst}: the destination must not be the source module, "
                "inside it, or contain it."
            )


def _staging_dir(dst: str) -> str:
    parent = os.path.dirname(dst) or "."
    os.makedirs(parent, exist_ok=True)
    return os.path.join(parent, f".{os.path.basename(dst)}.tfhub-convert-{secrets.token_hex(4)}")


def _move_into_place(staging: str, dst: str) -> None:
    """Renames ``staging`` to ``dst``, replacing an existing ``dst`` (the old one is moved
    aside first, and deleted only once the new one is in place)."""
    old = None
    if os.path.isdir(dst):
        if os.listdir(dst):
            old = f"{staging}.old"
            os.rename(dst, old)
        else:
            os.rmdir(dst)
    os.rename(staging, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _versions() -> dict[str, str]:
    return {"tfhub": __version__, "tensorflow": str(tf().__version__)}


def _tags(tags: Iterable[str] | str | None) -> list[str] | None:
    if tags is None:
        return None
    return [tags] if isinstance(tags, str) else sorted(set(tags))


def convert(
    src_handle: str | os.PathLike[str],
    dst_dir: str | os.PathLike[str],
    tags: Iterable[str] | None = None,
    *,
    verify: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    overwrite: bool = False,
) -> ConvertReport:
    """Converts the TF1 Hub module at ``src_handle`` into a TF2 Reusable SavedModel in
    ``dst_dir`` and (by default) verifies that it computes what the module computes.

    Args:
        src_handle: anything :func:`tfhub.resolve` accepts; it must hold a TF1 Hub module.
        dst_dir: a local directory; it must not exist or be empty, unless ``overwrite``.
        tags: the graph variant that ``training=False`` and the serving signatures run, as in
            ``hub.Module(tags=...)``; default: the empty tag set. ``training=True`` runs the
            ``train`` variant if the module has one, else this one.
        verify: run the module and the converted model on sample inputs and compare them.
        tolerance: the largest difference accepted (absolute up to 1, relative above).
        overwrite: replace a non-empty ``dst_dir``.

    Returns:
        A :class:`ConvertReport` (``report.summary()`` for people).

    Raises:
        ConvertError: the source is not a TF1 Hub module, or verification failed (then
            nothing is written to ``dst_dir``).
        ExportError: ``dst_dir`` is not empty (without ``overwrite``) or overlaps the source.
        ModuleLookupError: no graph variant with ``tags``.
        ModelFormatError: the module cannot be read or has parts tfhub cannot convert.
        UnsafeModelError: ``TFHUB_SCAN=block`` and the module, from a remote handle, has
            high-severity risky ops (the scan :func:`tfhub.load` runs).

    Example:
        >>> tfhub.convert("https://hub.example.com/models/text/1", "/m/text_tf2")  # doctest: +SKIP
    """
    from tfhub.hub import resolve

    if not tolerance >= 0:
        raise ConvertError(f"The tolerance must be a number >= 0, got {tolerance!r}.")
    handle = os.fspath(src_handle)
    label = redact_url(handle) if "://" in handle else os.path.abspath(os.path.expanduser(handle))
    dst = os.path.abspath(os.path.expanduser(os.fspath(dst_dir)))
    _check_destination(dst, overwrite)
    logger.info("loading %s", label)
    path = resolve(src_handle)
    _check_source(path, label)
    _check_overlap(path, dst)
    check_before_load(handle, path, read=read_file)  # the risky-op scan (TFHUB_SCAN)
    spec = load_module_spec(path)
    obj = load_reusable(spec, inference_tags=_tags(tags))
    staging = _staging_dir(dst)
    try:
        report = _convert_into(spec, obj, staging, label, dst, verify, tolerance)
        _move_into_place(staging, dst)
    finally:  # also on KeyboardInterrupt: nothing half-written is left behind
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _convert_into(
    spec: ModuleSpec,
    obj: ReusableHubModule,
    staging: str,
    label: str,
    dst: str,
    check: bool,
    tolerance: float,
) -> ConvertReport:
    logger.info(
        "converting (graph variants: %s)", describe_variants(obj.inference_tags, obj.train_tags)
    )
    regularization = [float(loss()) for loss in obj.regularization_losses]
    root = build_root(obj, spec)
    signatures = serving_signatures(obj)
    logger.info("saving to %s", dst)
    tf().saved_model.save(root, staging, signatures=signatures)
    write_attachments(staging, spec.info.variants)
    result = None
    if check:
        logger.info("verifying against %s (tolerance %g)", label, tolerance)
        result = verify(spec, obj, staging, tolerance, regularization)
    report = _report(spec, obj, label, dst, signatures, tolerance, result)
    write_provenance(staging, report, _versions())
    if result is not None and result.problems:
        raise ConvertError(
            f"Verification failed: the converted model differs from {label} beyond the "
            f"tolerance {tolerance:g}: "
            + "; ".join(result.problems[:10])
            + ". Nothing was written to the destination."
        )
    return report


def _report(
    spec: ModuleSpec,
    obj: ReusableHubModule,
    label: str,
    dst: str,
    signatures: dict[str, Any],
    tolerance: float,
    result: Verification | None,
) -> ConvertReport:
    inference = obj.variant_graph(False).variant
    serving = {key: key for key in signatures}
    if SERVING_DEFAULT in serving and SERVING_DEFAULT not in inference.signatures:
        serving[SERVING_DEFAULT] = "default"
    return ConvertReport(
        source=label,
        destination=dst,
        inference_tags=tuple(sorted(obj.inference_tags)),
        train_tags=tuple(sorted(obj.train_tags)),
        signatures=tuple(sorted(inference.signatures)),
        differences=dict(result.differences) if result else {},
        serving_signatures=serving,
        variables=len(obj.variables),
        trainable_variables=len(obj.trainable_variables),
        regularization_losses=len(obj.regularization_losses),
        assets=tuple(sorted({a.filename for v in spec.info.variants for a in v.assets})),
        attachments=tuple(sorted(inference.attachments)),
        variables_difference=result.variables_difference if result else None,
        regularization_difference=result.regularization_difference if result else None,
        tolerance=tolerance if result else None,
        verified=result is not None and not result.problems,
        random_outputs=tuple(result.random_outputs) if result else (),
    )
