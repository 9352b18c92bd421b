"""``tfhub.load``: resolve a handle and load its model with public TensorFlow API."""

from __future__ import annotations

import os
from typing import Any

from tfhub.core.formats import TF1_HUB_MODULE, detect_format, is_hub_module
from tfhub.errors import ModelFormatError
from tfhub.hub import resolve
from tfhub.inspection.checkpoint import check_checkpoint
from tfhub.inspection.load_scan import check_before_load
from tfhub.tf._import import read_file, tensorflow
from tfhub.tf.ops import missing_op_error


def _kind(path: str) -> str | None:
    """``TF1_HUB_MODULE`` for a TF1 Hub module, else None (a SavedModel, TF1 or TF2: loading
    treats both alike), from file names only: TensorFlow reads ``saved_model.pb`` anyway,
    and a damaged one is explained when loading fails (:func:`_check_files`)."""
    if "://" in path:
        tf = tensorflow()
        if not tf.io.gfile.exists(tf.io.gfile.join(path, "saved_model.pb")):
            raise ModelFormatError(f"Not a model: {path} has no saved_model.pb.")
        return TF1_HUB_MODULE if tf.io.gfile.exists(path + "/tfhub_module.pb") else None
    return TF1_HUB_MODULE if is_hub_module(path) else None


def _check_files(path: str) -> None:
    """After TensorFlow failed to load ``path``: raises the :class:`ModelFormatError` that
    says what is wrong with its files (damaged ``saved_model.pb``, no MetaGraph), if any."""
    if "://" not in path:
        detect_format(path)


def _check_checkpoint(path: str, label: str) -> None:
    """Before loading: refuses a local model whose checkpoint (``variables/``) is missing or
    incomplete, which TensorFlow reports only as a raw ``FileNotFoundError`` (or, in TF1
    compatibility mode, not before ``Session.run``). A complete one costs a listing."""
    if "://" in path:
        return
    problem = check_checkpoint(path)
    if problem:
        where = label if label == path else f"{label} ({path})"
        raise ModelFormatError(f"{where} is damaged: {problem}")


def load(
    handle: str | os.PathLike[str],
    tags: list[str] | set[str] | None = None,
    options: Any = None,
    *,
    trainable: bool = False,
) -> Any:
    """Resolves ``handle`` and loads the model it names.

    Works in TF2 eager mode and in TF1 compatibility mode (graph mode). For a TF1 Hub format
    module with ``tags=None`` the inference variant (empty tag set) is loaded.

    In TF1 compatibility mode (``tf.compat.v1.disable_v2_behavior()``) loading only builds
    graph ops; before the first ``Session.run`` of the model's outputs, run

    * ``tf.compat.v1.global_variables_initializer()``: the loaded variables are created
      uninitialized and their initializer *restores* them from the SavedModel's checkpoint
      (running it again later resets them to the saved values);
    * ``tf.compat.v1.tables_initializer()``: fills the model's lookup tables (vocabularies);

    or use ``tf.compat.v1.train.MonitoredSession``, whose default ``Scaffold`` runs both.
    To fine-tune with a TF1 optimizer, pass ``var_list=model.trainable_variables`` (the
    loaded variables are not in the ``TRAINABLE_VARIABLES`` collection) and build the train
    op before the first ``Session.run`` of the model: TF builds the gradient of a loaded
    function by rewriting its call op, which a Session that already ran the op cannot follow
    ("Connecting to invalid output 1 of source node ...StatefulPartitionedCall").
    ``tfhub.KerasLayer`` does this for ``tf_keras`` models, in any order of
    ``predict``/``evaluate``/``fit``.

    A model from a remote handle is first scanned for risky operations (``TFHUB_SCAN``:
    ``warn`` logs them, ``block`` refuses high-severity ones; :mod:`tfhub.inspection.load_scan`).

    Args:
        handle: anything :func:`tfhub.resolve` accepts.
        tags: the MetaGraph tag set to load (TF1 formats with several variants).
        options: a ``tf.saved_model.LoadOptions``.
        trainable: for a TF1 Hub module in eager TF2, load it for fine-tuning as a
            :class:`tfhub.tf1.reusable.ReusableHubModule`: ``obj(x, training=True)`` runs
            the graph variant ``tags`` (default: ``{"train"}`` if the module has it), other
            calls the inference variant, both over one set of variables, with the variant's
            update ops and ``regularization_losses``. Other formats load as usual.

    Returns:
        The loaded object, as ``tf.saved_model.load`` returns it.

    Raises:
        ModelFormatError: the handle names something that is not a model, or a damaged one
            (e.g. its ``variables/`` checkpoint is missing).
        MissingOpError: the model needs ops no installed package registers.
        UnsafeModelError: ``TFHUB_SCAN=block`` and the model has high-severity risky ops.

    Example:
        >>> import tfhub  # doctest: +SKIP
        >>> model = tfhub.load("https://hub.example.com/models/encoder/1")  # doctest: +SKIP
        >>> model(tf.constant([[1.0, 2.0]]))  # doctest: +SKIP
    """
    path = resolve(handle)
    check_before_load(handle, path, read=read_file)
    kind = _kind(path)
    _check_checkpoint(path, str(handle))
    if trainable and kind == TF1_HUB_MODULE and tensorflow().executing_eagerly():
        from tfhub.tf1.reusable import load_reusable

        return load_reusable(path, train_tags=tags)
    if tags is None and kind == TF1_HUB_MODULE:
        tags = []
    tf = tensorflow()
    label = str(handle)
    tables_before = _graph_table_initializer_count(tf)
    try:
        loaded = tf.compat.v2.saved_model.load(path, tags=tags, options=options)
    except Exception as e:
        _check_files(path)  # raises the format error for damaged files
        error = _explain(tf, e, label)
        if error is not None:
            raise error from e
        raise
    if kind == TF1_HUB_MODULE:
        _mark_hub_module(loaded)
        _set_trainable_variables(loaded, path, tags)
    if tables_before is not None:
        _remember_table_initializers(loaded, tf, tables_before)
    return loaded


def _explain(tf: Any, e: Exception, label: str) -> Exception | None:
    """A clearer error for TensorFlow's ``e`` (missing op, no MetaGraph with the tags)."""
    if isinstance(e, tf.errors.NotFoundError | tf.errors.InvalidArgumentError):
        return missing_op_error(str(e), label)
    if isinstance(e, ValueError | RuntimeError) and "MetaGraphDef" in str(e) and "tags" in str(e):
        return ModelFormatError(f"{label}: {e}")
    return None


def _graph_table_initializer_count(tf: Any) -> int | None:
    """In graph mode (TF1 compatibility), how many table initializers the graph has."""
    if tf.executing_eagerly() or tf.compat.v1.get_default_graph().building_function:
        return None
    return len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS))


def _remember_table_initializers(loaded: Any, tf: Any, start: int) -> None:
    """Keeps on ``loaded`` the table initializer ops its loading added to the graph, so that
    the tf_keras KerasLayer can run them (tf_keras never runs ``tables_initializer()``)."""
    added = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)[start:]
    try:
        loaded._tfhub_table_initializers = tuple(tf.nest.flatten(added))
    except AttributeError:  # pragma: no cover - loaded objects accept attributes
        pass


def _mark_hub_module(loaded: Any) -> None:
    """Flags a TF1 Hub module so KerasLayer applies the format's defaults (``default``)."""
    try:
        loaded._is_hub_module_v1 = True
    except AttributeError:  # pragma: no cover - loaded objects accept attributes
        pass


def _set_trainable_variables(loaded: Any, path: str, tags: Any) -> None:
    """Gives a loaded TF1 Hub module the ``trainable_variables`` its graph variant lists
    (``tf.saved_model.load`` gives a TF1 SavedModel none)."""
    from tfhub.tf1.spec import load_module_spec

    names = set(load_module_spec(path).variant(tags).trainable_variables)
    try:
        loaded.trainable_variables = [
            v for v in loaded.variables if v.name.split(":", 1)[0] in names
        ]
    except AttributeError:  # pragma: no cover - loaded objects accept attributes
        pass
