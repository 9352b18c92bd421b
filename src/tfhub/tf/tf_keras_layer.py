"""``KerasLayer`` for the legacy ``tf_keras`` (Keras 2 API), in TF2 and in TF1 compatibility
mode; the counterpart of :mod:`tfhub.tf.keras3_layer`.

Example:
    >>> import tf_keras, tfhub  # doctest: +SKIP
    >>> model = tf_keras.Sequential([tfhub.tf_keras_layer.TfKerasLayer(handle)])  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from typing import Any

import tensorflow as tf
import tf_keras

from tfhub.tf.layer_core import (
    HubCallable,
    LayerConfigError,
    apply_output_shape,
    cast_floats,
    layer_config,
    to_shapes,
    weight_names,
)


def _not_converted(method: Any) -> Any:
    """``tf.autograph.experimental.do_not_convert(method)`` that still shows ``method``'s
    signature to tf_keras. tf_keras reads ``call``'s arguments with ``getfullargspec``, which
    does not follow ``__wrapped__``: it would see ``(*args, **kwargs)``, then pass ``mask=``
    (a TypeError in ``call``) for masked inputs, miss a positional ``training`` (and pass it
    again), and look for input masks on every call."""
    wrapper = tf.autograph.experimental.do_not_convert(method)
    wrapper.__signature__ = inspect.signature(method)
    return wrapper


@tf_keras.utils.register_keras_serializable(package="tfhub", name="KerasLayer")
class TfKerasLayer(tf_keras.layers.Layer):
    """Wraps a reusable SavedModel (``handle``) as a ``tf_keras`` layer.

    Same arguments and behaviour as :class:`tfhub.tf.keras3_layer.Keras3Layer`.
    """

    def __init__(
        self,
        handle: Any,
        trainable: bool = False,
        arguments: dict[str, Any] | None = None,
        _sentinel: Any = None,
        tags: Any = None,
        signature: str | None = None,
        signature_outputs_as_dict: bool | None = None,
        output_key: str | None = None,
        output_shape: Any = None,
        load_options: Any = None,
        **kwargs: Any,
    ) -> None:
        if _sentinel is not None:
            raise LayerConfigError("Pass the KerasLayer arguments after handle by keyword.")
        self._handle = handle
        self._tags = sorted(tags) if tags is not None else None
        self._hub = HubCallable(
            handle, trainable=trainable, tags=tags, load_options=load_options,
            signature=signature,
            signature_outputs_as_dict=signature_outputs_as_dict, output_key=output_key,
            arguments=arguments,
        )  # fmt: skip
        kwargs.setdefault("autocast", False)  # inputs are cast to what the model expects
        super().__init__(trainable=trainable, **kwargs)
        self._input_dtype = self._hub.float_input_dtype()
        self._output_shape_nest = to_shapes(output_shape) if output_shape is not None else None
        trainable_vars, other_vars = self._hub.variables()
        names = weight_names(trainable_vars + other_vars)
        for i, v in enumerate(trainable_vars + other_vars):
            self._add_existing_weight(v, names[i], trainable=i < len(trainable_vars))
        for loss in self._hub.regularization_losses():
            self.add_loss(self._loss_if_trainable(loss))
        _initialize_tables_with_keras(self._hub.obj)

    def _add_existing_weight(self, weight: Any, name: str, trainable: bool) -> None:
        self.add_weight(
            name=name, shape=weight.shape, dtype=weight.dtype,
            trainable=trainable, experimental_autocast=False,
            getter=lambda *_, **__: weight,
        )  # fmt: skip

    def _loss_if_trainable(self, loss: Any) -> Any:
        return lambda: (
            _graph_gradients_now(loss(), self.trainable_weights)
            if self.trainable
            else None  # tf_keras leaves None out of model.losses
        )

    @property
    def resolved_object(self) -> Any:
        """The loaded model object."""
        return self._hub.obj

    @_not_converted  # plain Python; keeps tfhub's error types
    def call(self, inputs: Any, training: Any = None) -> Any:
        if self.trainable:
            self._hub.check_trainable()
            if training is None:
                training = tf_keras.backend.learning_phase()
        else:
            training = False  # like BatchNormalization: frozen means inference
        if isinstance(training, int) and not isinstance(training, bool):
            training = bool(training)
        outputs = self._hub.call(cast_floats(inputs, self._input_dtype), training)
        if _in_tf1_graph():
            _graph_gradients_now(outputs, _gradient_sources(self, inputs))
        return self._apply_output_shape(inputs, outputs)

    def _apply_output_shape(self, inputs: Any, outputs: Any) -> Any:
        return apply_output_shape(inputs, outputs, self._output_shape_nest)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape_nest is None:
            return super().compute_output_shape(input_shape)
        batch = tf.nest.flatten(input_shape)[0]
        return tf.nest.map_structure(
            lambda s: tf.TensorShape([batch]).concatenate(s), self._output_shape_nest
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **layer_config(self._handle, self._hub, self._tags, self._output_shape_nest),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TfKerasLayer:
        """Rebuilds the layer, which loads (and later runs) the model its handle names:
        refused while tf_keras loads a ``.keras`` file in safe mode (the default there;
        SavedModel and ``.h5`` loading have no safe mode and rebuild it, like the original)."""
        from tf_keras.src.saving.serialization_lib import in_safe_mode

        if in_safe_mode():
            raise LayerConfigError(
                "Refusing to rebuild a tfhub.KerasLayer in safe mode: it loads the external "
                f"model {config.get('handle')!r}, whose graph runs when called. If you trust "
                "it, load with safe_mode=False."
            )
        return cls(**config)


# -- TF1 compatibility mode (graph mode) ----------------------------------------------
# A restored tf.function called in a graph is a call op whose gradient TF builds lazily,
# by *rewriting* that op (adding outputs for the backward pass). A Session that already ran
# the op (predict / evaluate / get_weights before the first fit) never sees the rewrite, so
# fit then fails with "Connecting to invalid output 1 of source node ...StatefulPartitionedCall".
# Building the gradients as soon as the op exists rewrites it before any Session runs it;
# later tf.gradients calls (the optimizer's) reuse the rewritten op.


def _in_tf1_graph() -> bool:
    """True when building a plain graph that a ``Session`` will run (not a tf.function)."""
    return not tf.executing_eagerly() and not tf.compat.v1.get_default_graph().building_function


def _gradient_sources(layer: Any, inputs: Any) -> list[Any]:
    """What a later ``fit`` may differentiate this layer's call op for: its trainable weights,
    and inputs computed by other ops (a frozen layer between trainable ones)."""
    sources = list(layer.trainable_weights) if layer.trainable else []
    for t in tf.nest.flatten(inputs):
        if tf.is_tensor(t) and t.dtype.is_floating and not t.op.type.startswith("Placeholder"):
            sources.append(t)
    return sources


def _graph_gradients_now(outputs: Any, sources: list[Any]) -> Any:
    """In graph mode, builds (and discards) the gradients of ``outputs``; returns them."""
    if not _in_tf1_graph():
        return outputs
    targets = [t for t in tf.nest.flatten(outputs) if tf.is_tensor(t) and t.dtype.is_floating]
    if targets and sources:
        try:
            with tf.name_scope("tfhub_gradient_rewrite"):
                tf.compat.v1.gradients(targets, sources)
        except Exception:  # not differentiable: the real gradient call will say so, if any
            pass
    return outputs


def _initialize_tables_with_keras(loaded: Any) -> None:
    """tf_keras in graph mode initializes its tracked variables but never runs
    ``tables_initializer()``: makes the tables that ``tfhub.load`` created for ``loaded``
    (vocabularies...) initialize with them, through a hidden, tracked flag variable."""
    if not _in_tf1_graph():
        return
    graph = tf.compat.v1.get_default_graph()
    init_ops = [op for op in getattr(loaded, "_tfhub_table_initializers", ()) if op.graph is graph]
    if not init_ops:
        return
    with tf.init_scope(), tf.control_dependencies(init_ops):
        done = tf.constant(True)
    flag = tf.compat.v1.Variable(
        done, trainable=False, name="tfhub_tables_initialized", use_resource=True,
        collections=[tf.compat.v1.GraphKeys.LOCAL_VARIABLES],
    )  # fmt: skip
    tf_keras.__internal__.backend.track_variable(flag)
