"""This model's compatibility table: for ``load``, ``fine_tune`` and ``create``, in TF1
compatibility mode, in TF2 with ``tf_keras`` and with Keras 3, whether it works with tfhub
and the call to use (read from the report, never by loading the model).

Example:
    >>> table = compatibility_table(tfhub.inspect("/models/encoder"))  # doctest: +SKIP
    >>> table.fine_tune.keras3.call  # doctest: +SKIP
    "layer = tfhub.KerasLayer('/models/encoder', trainable=True)"
"""

from __future__ import annotations

import shlex
from dataclasses import replace

from tfhub.inspection.report import (
    TF1_HUB_MODULE,
    TF1_SAVED_MODEL,
    CompatCell,
    CompatRow,
    CompatTable,
    InspectReport,
    SignatureInfo,
)

_INIT_NOTE = (
    "graph mode: run `tf.compat.v1.global_variables_initializer()` and "
    "`tf.compat.v1.tables_initializer()` before the first `Session.run` "
    "(or use `tf.compat.v1.train.MonitoredSession`)"
)
_KERAS3_NOTE = "a Keras 3 layer (`tfhub.keras3.KerasLayer`) unless TF_USE_LEGACY_KERAS=1"
_DAMAGED_NOTE = "the model is damaged and cannot load as it is: see the notes"
_CONVERT_NOTE = (
    "Migration: `tfhub convert {handle} OUTPUT_DIR` (or `tfhub.convert(...)`) turns this TF1 "
    "Hub module into a TF2 Reusable SavedModel, checked against the module, that "
    "`tf.saved_model.load`, `tfhub.load` and both Kerases load and fine-tune directly."
)


def with_compatibility(report: InspectReport, handle: str | None = None) -> InspectReport:
    """``report`` with its table (re)built, its calls naming ``handle`` (default: the
    report's handle, else its path); the hub server uses this to show its own URLs."""
    handle = handle or report.handle
    updated = replace(report, handle=handle)
    return replace(updated, compatibility=compatibility_table(updated))


def compatibility_table(report: InspectReport) -> CompatTable:
    """The table for the model ``report`` describes (its ``compatibility`` is ignored)."""
    name = repr(report.handle or report.path)
    if report.format == TF1_HUB_MODULE:
        table = _hub_module(report, name)
    elif report.format == TF1_SAVED_MODEL:
        table = _tf1_saved_model(report, name)
    else:
        table = _tf2_saved_model(report, name)
    if report.problems:
        table = _damaged(table, report.problems)
    return replace(table, notes=_scan_notes(report) + table.notes)


def _damaged(table: CompatTable, problems: tuple[str, ...]) -> CompatTable:
    """``table`` for a damaged copy of the model: nothing loads or fine-tunes (creating such
    a model is unaffected); the problems head the notes."""

    def refuse(row: CompatRow) -> CompatRow:
        cells = (row.tf1_compat, row.tf2_tf_keras, row.keras3)
        return _row(*(replace(c, works=False, note=_DAMAGED_NOTE) for c in cells))

    return CompatTable(
        load=refuse(table.load),
        fine_tune=refuse(table.fine_tune),
        create=table.create,
        notes=problems + table.notes,
    )


def _scan_notes(report: InspectReport) -> tuple[str, ...]:
    """What every mode needs to know from the scan: op libraries to install and import
    first, risky ops to review."""
    notes = []
    for library in report.scan.op_libraries:
        ops = ", ".join(library.ops)
        if library.package:
            module = library.package.replace("-", "_")
            notes.append(
                f"Needs {library.package} ({ops}): `pip install {library.package}` and "
                f"`import {module}` before loading, in every mode."
            )
        else:
            notes.append(f"Needs ops that no known package provides ({ops}).")
    high = report.scan.high()
    if high:
        ops = ", ".join(sorted({f.op for f in high}))
        notes.append(
            f"{len(high)} high-severity risky op(s) ({ops}): review them before loading; "
            "they run in every mode."
        )
    return tuple(notes)


def _row(tf1: CompatCell, tf_keras: CompatCell, keras3: CompatCell) -> CompatRow:
    return CompatRow(tf1_compat=tf1, tf2_tf_keras=tf_keras, keras3=keras3)


def pick_signature(report: InspectReport, preferred: str) -> SignatureInfo | None:
    """The signature a KerasLayer would call: ``preferred`` if the model has it, else the
    first of the first graph variant (None if there is none). The table's calls and the hub's
    snippets both use it, so they always name the same signature."""
    signatures = report.graph_variants[0].signatures if report.graph_variants else ()
    return next(
        (s for s in signatures if s.name == preferred), signatures[0] if signatures else None
    )


def _pick(report: InspectReport, preferred: str) -> tuple[SignatureInfo | None, str | None]:
    """:func:`pick_signature` and its output (``default`` if present, else the first)."""
    signature = pick_signature(report, preferred)
    if signature is None or not signature.outputs:
        return signature, None
    keys = [o.name for o in signature.outputs]
    return signature, "default" if "default" in keys else keys[0]


def _inputs_note(signature: SignatureInfo | None) -> str:
    if signature is None:
        return ""
    notes = []
    if len(signature.inputs) > 1:
        names = ", ".join(i.name for i in signature.inputs)
        notes.append(f"signature {signature.name!r} takes a dict of inputs ({names})")
    for tensor in signature.inputs:
        if tensor.kind in ("sparse", "ragged"):
            kind = "tf.SparseTensor" if tensor.kind == "sparse" else "tf.RaggedTensor"
            notes.append(f"input {tensor.name!r} is {tensor.kind}: pass a {kind}")
    return "; ".join(notes)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# -- TF1 Hub format ---------------------------------------------------------------------------


def _hub_module(report: InspectReport, h: str) -> CompatTable:
    signature, output = _pick(report, "default")
    if signature is None or output is None or (signature.name, output) == ("default", "default"):
        args = h
    else:
        args = f"{h}, signature={signature.name!r}, output_key={output!r}"
    sig = signature.name if signature else "default"
    inputs = _inputs_note(signature)
    load = _row(
        CompatCell(
            True,
            f"m = tfhub.Module({h}); outputs = m(inputs, signature={sig!r}, as_dict=True)",
            _join(
                "in a tf.Graph (TF1 compatibility mode, or `with tf.Graph().as_default():`)",
                _INIT_NOTE.removeprefix("graph mode: "),
                inputs,
            ),
        ),
        CompatCell(
            True,
            f"layer = tfhub.tf_keras.KerasLayer({args})",
            _join(f"or `tfhub.load({h}).signatures[{sig!r}](**inputs)` (a dict)", inputs),
        ),
        CompatCell(True, f"layer = tfhub.KerasLayer({args})", _join(_KERAS3_NOTE, inputs)),
    )
    return CompatTable(
        load=load,
        fine_tune=_hub_module_fine_tune(report, h, args),
        create=_hub_module_create(report, h),
        notes=(_CONVERT_NOTE.format(handle=shlex.quote(report.handle or report.path)),),
    )


def _hub_module_fine_tune(report: InspectReport, h: str, args: str) -> CompatRow:
    has_train = any(v.tags == ("train",) for v in report.graph_variants)
    tags = ", tags={'train'}" if has_train else ""
    tf1 = CompatCell(
        True,
        f"m = tfhub.Module({h}, trainable=True{tags})",
        "fills TRAINABLE_VARIABLES, UPDATE_OPS and REGULARIZATION_LOSSES: add the losses to "
        "yours and run the update ops with your train op",
    )
    train = (
        "`training=True` runs the `train` graph variant (with its update ops) over the same "
        "variables; its regularization losses join `model.losses`"
        if has_train
        else "the module has no `train` graph variant: training runs the inference graph"
    )
    tape = f"for a GradientTape loop: `tfhub.load({h}, trainable=True)`"
    tf_keras = CompatCell(
        True, f"layer = tfhub.tf_keras.KerasLayer({args}, trainable=True)", _join(train, tape)
    )
    keras3 = CompatCell(
        True, f"layer = tfhub.KerasLayer({args}, trainable=True)", _join(train, tape)
    )
    if report.variables.trainable == 0:
        why = "the module lists no trainable variables: there is nothing to fine-tune"
        return _row(*(replace(c, works=False, note=why) for c in (tf1, tf_keras, keras3)))
    if report.variables.reference:
        rewritten = (
            f"its {report.variables.reference} reference variables (VariableV2) are rewritten "
            "as resource variables when loaded (refused, naming the op, if one feeds an op "
            "that has no resource form, such as ScatterUpdate)"
        )
        tf_keras = replace(tf_keras, note=_join(tf_keras.note, rewritten))
        keras3 = replace(keras3, note=_join(keras3.note, rewritten))
    return _row(tf1, tf_keras, keras3)


def _tags_and_args(report: InspectReport) -> str:
    variants = [v.tags for v in report.graph_variants]
    if variants in ([()], []):
        return ""
    items = []
    for tags in variants:
        tag_set = "set()" if not tags else "{" + ", ".join(repr(t) for t in tags) + "}"
        kwargs = "{'training': True}" if tags == ("train",) else "{'training': False}"
        items.append(f"({tag_set}, {kwargs})")
    return f", tags_and_args=[{', '.join(items)}]"


def _hub_module_create(report: InspectReport, h: str) -> CompatRow:
    spec = f"spec = tfhub.create_module_spec(module_fn{_tags_and_args(report)})"
    body = "module_fn calls `tfhub.add_signature(...)` (and `tfhub.attach_message(...)`)"
    eager = CompatCell(
        True,
        f"{spec}; spec.export(path, checkpoint_path=checkpoint)",
        _join(
            "works from eager TF2: the graphs are built internally", body,
            f"a model fine-tuned with `tfhub.load({h}, trainable=True)` is written back in this "
            "format by its `.export(path)`",
        ),
    )  # fmt: skip
    return _row(
        CompatCell(True, f"{spec}; m = tfhub.Module(spec); m.export(path, session)", body),
        eager,
        replace(eager, note="Keras plays no part: as in TF2 with tf_keras"),
    )


# -- TF2 SavedModels (also saved by Keras) ----------------------------------------------------


def _tf2_saved_model(report: InspectReport, h: str) -> CompatTable:
    reusable = report.reusable
    callable_root = reusable is not None and reusable.call
    signature, output = _pick(report, "serving_default")
    if callable_root:
        args: str | None = h
    elif signature is not None and output is not None:
        args = f"{h}, signature={signature.name!r}, output_key={output!r}"
    else:
        args = None
    if callable_root:
        tf1_load = CompatCell(True, f"model = tfhub.load({h}); outputs = model(inputs)", _INIT_NOTE)
    elif signature is not None:
        call = f"model = tfhub.load({h}); outputs = model.signatures[{signature.name!r}](**inputs)"
        tf1_load = CompatCell(True, call, _join(_INIT_NOTE, _inputs_note(signature)))
    else:
        tf1_load = CompatCell(True, f"model = tfhub.load({h})", "nothing to call: no __call__")
    keras = report.keras.library if report.keras else None
    extra_tf_keras = "or `tf_keras.models.load_model(path)` for the Keras model" if keras else ""
    extra_keras3 = "or `keras.layers.TFSMLayer(path)`" if keras == "keras3" else ""
    nothing = "nothing to call: no `__call__` and no signatures"
    load = _row(
        tf1_load,
        CompatCell(args is not None, f"layer = tfhub.tf_keras.KerasLayer({args or h})",
                   extra_tf_keras if args else nothing),
        CompatCell(args is not None, f"layer = tfhub.KerasLayer({args or h})",
                   _join(_KERAS3_NOTE, extra_keras3) if args else nothing),
    )  # fmt: skip
    notes: tuple[str, ...] = ()
    if reusable is not None and reusable.problems:
        missing = [
            name
            for name, present in (
                ("__call__", reusable.call),
                ("variables", reusable.variables is not None),
                ("trainable_variables", reusable.trainable_variables is not None),
            )
            if not present
        ]
        notes = (
            f"Not a Reusable SavedModel: its root lacks {', '.join(missing)} "
            "(`tfhub.check_reusable_saved_model` says how to fix it).",
        )
    return CompatTable(
        load=load,
        fine_tune=_tf2_fine_tune(report, h),
        create=_tf2_create(report),
        notes=notes,
    )


def _tf2_fine_tune(report: InspectReport, h: str) -> CompatRow:
    reusable = report.reusable
    cells = [
        CompatCell(
            True,
            f"layer = tfhub.KerasLayer({h}, trainable=True)",
            "a tf_keras layer in graph mode: use it in a tf_keras model compiled with a "
            f"`tf_keras.optimizers.legacy` optimizer; or `tfhub.load({h})` and "
            "`minimize(loss, var_list=model.trainable_variables)`, built before the first "
            "`Session.run`",
        ),
        CompatCell(True, f"layer = tfhub.tf_keras.KerasLayer({h}, trainable=True)"),
        CompatCell(True, f"layer = tfhub.KerasLayer({h}, trainable=True)"),
    ]
    if reusable is None or not reusable.call:
        why = (
            "no `__call__`: signatures have no training mode, so tfhub refuses to fine-tune "
            "through one; re-save the model with a `__call__` (see "
            "`tfhub.check_reusable_saved_model`)"
        )
    elif reusable.trainable_variables is None:
        why = (
            "the root has no `trainable_variables` attribute, so nothing would be trained; "
            "re-save it following the Reusable SavedModel conventions"
        )
    elif reusable.trainable_variables == 0:
        why = "the root's `trainable_variables` is empty: there is nothing to fine-tune"
    else:
        if reusable.call_accepts_training:
            note = "`training=True` reaches `__call__` while Keras trains"
        else:
            note = (
                "`__call__` takes no `training` argument: it always runs in inference mode "
                "(no dropout, no batch-norm updates)"
            )
        if reusable.regularization_losses:
            note += "; its regularization losses join `model.losses`"
        cells[1:] = [replace(c, note=note) for c in cells[1:]]
        return _row(*cells)
    return _row(*(replace(c, works=False, note=why) for c in cells))


def _tf2_create(report: InspectReport) -> CompatRow:
    keras = report.keras.library if report.keras else None
    save = "tf.saved_model.save(root, path)"
    root = (
        "root: a `tf.train.Checkpoint` with `__call__`, `variables`, `trainable_variables` "
        "and `regularization_losses` set; `tfhub.check_reusable_saved_model(path)` checks it"
    )
    if keras == "tf_keras":
        return _row(
            CompatCell(
                True,
                "with tf_keras.src.backend.get_session().as_default(): "
                "tf2.saved_model.save(model, path)",
                "a tf_keras model in graph mode (`import tensorflow as tf2`: the TF2 API)",
            ),
            CompatCell(True, "model.save(path, save_format='tf')", "a tf_keras model"),
            CompatCell(
                False,
                "model.export(path)",
                "Keras 3 cannot write tf_keras SavedModels: `model.export(path)` writes "
                "signatures only (no `__call__`, not fine-tunable)",
            ),
        )
    if keras == "keras3":
        return _row(
            CompatCell(False, "", "Keras 3 does not run in TF1 compatibility mode"),
            CompatCell(
                False,
                "model.save(path, save_format='tf')",
                "tf_keras cannot write Keras 3 exports; this writes a reusable tf_keras "
                "SavedModel instead",
            ),
            CompatCell(True, "model.export(path)", "signatures only (`serve`, `serving_default`)"),
        )
    return _row(
        CompatCell(
            True,
            "tf2.saved_model.save(root, path)",
            "inside `with tf.compat.v1.Session() as sess:` once the variables are initialized "
            "(`import tensorflow as tf2`: the TF2 API); " + root,
        ),
        CompatCell(True, save, root + "; a tf_keras model's `model.save(path)` also gives one"),
        CompatCell(True, save, root + "; Keras 3's `model.export(path)` writes signatures only"),
    )


# -- plain TF1 SavedModels --------------------------------------------------------------------


def _tf1_saved_model(report: InspectReport, h: str) -> CompatTable:
    signature, output = _pick(report, "serving_default")
    tags = list(report.graph_variants[0].tags) if report.graph_variants else ["serve"]
    tags_kw = f", tags={tags!r}" if len(report.graph_variants) > 1 else ""
    sig = signature.name if signature else "serving_default"
    args = f"{h}, signature={sig!r}, output_key={output or 'output'!r}{tags_kw}"
    inputs = _inputs_note(signature)
    call = f"model = tfhub.load({h}{tags_kw}); outputs = model.signatures[{sig!r}](**inputs)"
    load = _row(
        CompatCell(True, call, _join(_INIT_NOTE, inputs)),
        CompatCell(True, f"layer = tfhub.tf_keras.KerasLayer({args})", inputs),
        CompatCell(True, f"layer = tfhub.KerasLayer({args})", _join(_KERAS3_NOTE, inputs)),
    )
    refused = (
        "a TF1 SavedModel has only signatures, which have no training mode: tfhub refuses to "
        "fine-tune through one; fine-tune it in TF1 compatibility mode, or re-create it as a "
        "TF1 Hub module or a reusable TF2 SavedModel"
    )
    tf1 = CompatCell(
        report.variables.trainable > 0,
        f"tf.compat.v1.saved_model.load(sess, {tags!r}, tfhub.resolve({h}))",
        "restores the graph and its variables into the session's graph; its trainable "
        "variables are in TRAINABLE_VARIABLES: build a loss on the signature's tensors and "
        "`minimize` it"
        if report.variables.trainable
        else "the model lists no trainable variables: there is nothing to fine-tune",
    )
    fine_tune = _row(
        tf1,
        CompatCell(False, f"layer = tfhub.tf_keras.KerasLayer({args}, trainable=True)", refused),
        CompatCell(False, f"layer = tfhub.KerasLayer({args}, trainable=True)", refused),
    )
    build = (
        f"builder = tf.compat.v1.saved_model.Builder(path); builder.add_meta_graph_and_variables("
        f"sess, {tags!r}, signature_def_map=signatures); builder.save()"
    )
    in_graph = "in `with tf.Graph().as_default(), tf.compat.v1.Session() as sess:`"
    create = _row(
        CompatCell(True, build),
        CompatCell(True, build, in_graph),
        CompatCell(True, build, in_graph + "; Keras plays no part"),
    )
    return CompatTable(
        load=load,
        fine_tune=fine_tune,
        create=create,
        notes=(
            "A plain TF1 SavedModel: re-export it as a TF1 Hub module or a reusable TF2 "
            "SavedModel to fine-tune it in TF2.",
        ),
    )
