"""``KerasLayer`` for Keras 3: a real ``keras.Layer`` wrapping a TF2 SavedModel (or a TF1 Hub
module's signature), usable in Sequential, functional and subclassed models.

Example:
    >>> import keras, tfhub  # doctest: +SKIP
    >>> model = keras.Sequential([keras.Input([3]), tfhub.KerasLayer(handle, trainable=True)])
    ... # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any

import keras
import tensorflow as tf

from tfhub.tf.layer_core import (
    HubCallable,
    LayerConfigError,
    apply_output_shape,
    cast_floats,
    layer_config,
    to_shapes,
    weight_names,
)

try:  # Keras internals that the eager fast path of Keras3Layer.__call__ mirrors
    from keras.src.backend.common import global_state
    from keras.src.utils import traceback_utils
    from tensorflow.python.framework.ops import EagerTensor

    _FAST_PATH = EagerTensor.__dictoffset__ != 0  # Keras keeps a tensor's mask in its __dict__
except ImportError:  # pragma: no cover - other Keras/TF versions: always Keras's __call__
    _FAST_PATH = False

# Global Keras state under which Layer.__call__ does more than call ``call()``: an outer
# layer's call (training inherited, losses collected), autocast, stateless and symbolic
# scopes, a keras.distribution layout.
_KERAS_SCOPES = (
    "current_call_ctx", "autocast_scope", "stateless_scope", "symbolic_scope", "distribution",
)  # fmt: skip


def _no_keras_scope(state: dict[str, Any]) -> bool:
    return all(state.get(name) is None for name in _KERAS_SCOPES)


def _raise_filtered(error: Exception) -> None:
    """Raises ``error`` with the traceback Keras's ``Layer.__call__`` would leave (Keras and
    TensorFlow internals filtered out, when Keras's traceback filtering is on)."""

    @traceback_utils.filter_traceback
    def raise_it() -> None:
        raise error

    raise_it()


class SharedVariable(keras.Variable):
    """A Keras variable whose storage *is* an existing ``tf.Variable`` (no copy)."""

    def __init__(self, variable: tf.Variable, *, name: str, trainable: bool) -> None:
        self._existing = variable
        super().__init__(
            initializer=self._adopt, shape=tuple(variable.shape), dtype=variable.dtype.name,
            trainable=trainable, name=name,
        )  # fmt: skip

    def _adopt(self, shape: Any = None, dtype: Any = None) -> tf.Variable:
        return self._existing

    def _initialize_with_initializer(self, initializer: Any) -> None:
        self._initialize(self._existing)  # keeps the tf.Variable itself as the value


class _SavedModelLosses:
    """A weight "regularizer" that returns the sum of a SavedModel's regularization losses."""

    def __init__(self, losses: list[Any]) -> None:
        self.losses = losses

    def __call__(self, _variable: Any) -> Any:
        total = self.losses[0]()
        for loss in self.losses[1:]:
            total = total + loss()
        return total


def _in_safe_mode() -> bool:
    try:
        from keras.src.saving.serialization_lib import in_safe_mode
    except ImportError:  # pragma: no cover - older/newer Keras: be safe
        return True
    return in_safe_mode() is not False


@keras.saving.register_keras_serializable(package="tfhub", name="KerasLayer")
class Keras3Layer(keras.layers.Layer):
    """Wraps a reusable SavedModel (``handle``) as a Keras 3 layer.

    Arguments match the original ``hub.KerasLayer``: ``handle``, ``trainable``, ``arguments``,
    ``signature``, ``signature_outputs_as_dict``, ``output_key``, ``output_shape``,
    ``load_options``, ``tags``, plus any ``keras.layers.Layer`` keyword.

    The model's variables become the layer's weights without a copy; they are trainable only
    with ``trainable=True``, and then the model's ``regularization_losses`` join
    ``model.losses`` and ``training`` reaches the model's ``__call__`` (if it takes one).

    Floating inputs are cast to the dtype the model was saved with (under a ``mixed_float16``
    policy, float16 activations reach a float32 model as float32; outputs keep the model's
    dtype). Under ``tf.distribute`` strategies, build the model in ``strategy.scope()``;
    moving statistics that the SavedModel updates itself (batch norm) are updated per replica
    from that replica's batch, as TensorFlow runs restored functions.
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
        kwargs.setdefault("autocast", False)  # inputs are cast to what the model expects
        super().__init__(trainable=trainable, **kwargs)
        self._handle = handle
        self._tags = sorted(tags) if tags is not None else None
        self._hub = HubCallable(
            handle, trainable=trainable, tags=tags, load_options=load_options,
            signature=signature,
            signature_outputs_as_dict=signature_outputs_as_dict, output_key=output_key,
            arguments=arguments,
        )  # fmt: skip
        self._output_shape = to_shapes(output_shape) if output_shape is not None else None
        self._input_dtype = self._hub.float_input_dtype()
        trainable_vars, other_vars = self._hub.variables()
        names = weight_names(trainable_vars + other_vars)
        self._hub_trainable = [
            SharedVariable(v, name=n, trainable=True)
            for v, n in zip(trainable_vars, names, strict=False)
        ]
        self._hub_frozen = [
            SharedVariable(v, name=n, trainable=False)
            for v, n in zip(other_vars, names[len(trainable_vars) :], strict=True)
        ]
        self._hub_losses = self._hub.regularization_losses()
        if trainable:
            self._hub.check_trainable()
        if self._hub_losses and self._hub_trainable:
            # Keras 3 asks the regularizers of the layer's *trainable* weights for their
            # losses each time ``model.losses`` is read (also inside ``fit``), so the
            # SavedModel's terms count exactly when the layer is trainable and always have
            # their current value, like ``kernel_regularizer`` of a Dense layer.
            self._hub_trainable[0].regularizer = _SavedModelLosses(self._hub_losses)
        # The variables were tracked as trainable; running the ``trainable`` setter marks
        # them non-trainable when the layer is frozen (a model counts trainable weights by
        # their own flag) and lets ``layer.trainable = ...`` switch them later. Called
        # directly: Keras skips ``self.trainable = x`` when the value does not change.
        keras.layers.Layer.trainable.fset(self, trainable)
        self.built = True

    @property
    def resolved_object(self) -> Any:
        """The loaded model object."""
        return self._hub.obj

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``keras.Layer.__call__``, with a shortcut for the plain eager call of a built
        layer on one tensor (``layer(x)``, ``layer(x, training=True)``) outside any other
        layer, scope or policy that ``Layer.__call__`` would act on: there ``Layer.__call__``
        only resolves ``training`` (the argument itself), starts a fresh call context
        (clearing the layer's losses) and runs ``call``, which is what the shortcut does,
        without the generic argument binding, mask and scope handling (50-100 µs per call,
        ~20 % of a small model's eager call). Everything else goes through Keras."""
        if (
            _FAST_PATH
            and len(args) == 1
            and type(args[0]) is EagerTensor
            and (not kwargs or (len(kwargs) == 1 and "training" in kwargs))
            and self._eager_shortcut_applies(args[0], kwargs.get("training"))
        ):
            return self._eager_call(args[0], kwargs)
        return super().__call__(*args, **kwargs)

    def _eager_call(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        if self._losses or self._loss_ids or self._layers:
            self._clear_losses()  # what entering a new Keras call context does
        if kwargs.get("training") is None:
            kwargs = {}  # Keras passes training to call() only when it is not None
        try:
            return self.call(inputs, **kwargs)
        except Exception as error:
            if not traceback_utils.is_traceback_filtering_enabled():
                raise
            # The error Keras gives (Operation.__call__): the call's arguments added to
            # the message, by Keras's own code, on the original traceback.
            caught, traceback = error, error.__traceback__

            @functools.wraps(self.call)
            def reraise(*_args: Any, **_kwargs: Any) -> Any:
                raise caught

            try:
                traceback_utils.inject_argument_info_in_traceback(
                    reraise, object_name=f"{self.__class__.__name__}.call()"
                )(inputs, **kwargs)
            except Exception as dressed:
                _raise_filtered(dressed.with_traceback(traceback))
            raise

    def _eager_shortcut_applies(self, x: Any, training: Any) -> bool:
        return (
            (training is None or training is True or training is False)
            and self._called  # the first call goes through Keras (name scope, build state)
            and self.built
            and self._hub.only_runs_graphs  # no user Python that could see Keras state
            and tf.executing_eagerly()
            and not self.autocast
            and self.input_spec is None
            and self.activity_regularizer is None
            and not self.supports_masking
            and not getattr(self, "_remat_mode", None)
            and getattr(self, "quantization_mode", None) is None
            and self.compute_dtype == self.variable_dtype  # else Keras enters an autocast scope
            and vars(x).get("_keras_mask") is None  # where Keras keeps an eager tensor's mask
            and _no_keras_scope(vars(global_state.GLOBAL_STATE_TRACKER))
        )

    def call(self, inputs: Any, training: Any = None) -> Any:
        if self.trainable:
            self._hub.check_trainable()
            if not self._hub_trainable:  # no weight to carry them: add them per call
                for loss in self._hub_losses:
                    self.add_loss(loss())
        # Like BatchNormalization: training mode only when trainable *and* training.
        run_training: Any = training if self.trainable and training is not None else False
        # (tf.is_tensor costs ~8 µs on a bool: not asked for the common True / False)
        if not isinstance(run_training, bool) and not tf.is_tensor(run_training):
            run_training = bool(run_training)
        outputs = self._hub.call(cast_floats(inputs, self._input_dtype), run_training)
        if self._output_shape is None:
            return outputs
        return apply_output_shape(inputs, outputs, self._output_shape)

    def _cast(self, inputs: Any) -> Any:
        return cast_floats(inputs, self._input_dtype)

    def _apply_output_shape(self, inputs: Any, outputs: Any) -> Any:
        return apply_output_shape(inputs, outputs, self._output_shape)

    def compute_output_spec(self, inputs: Any, training: Any = None, **kwargs: Any) -> Any:
        """Output KerasTensors for symbolic inputs, found by tracing (never running) the model."""
        specs = tf.nest.map_structure(
            lambda t: tf.TensorSpec(t.shape, tf.as_dtype(t.dtype)), inputs
        )
        traced = tf.function(
            lambda x: self._apply_output_shape(x, self._hub.call(self._cast(x), False)),
            autograph=False,
        ).get_concrete_function(specs)
        return tf.nest.map_structure(
            lambda t: keras.KerasTensor(tuple(t.shape.as_list()), dtype=t.dtype.name),
            traced.structured_outputs,
        )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape(s) for ``input_shape`` (a shape tuple, or a nest of them): from
        ``output_shape`` if given, else by tracing (never running) the model."""
        shapes = []
        keras.tree.map_shape_structure(lambda s: shapes.append(tuple(s)), input_shape)
        if self._output_shape is None:
            dtype = tf.as_dtype(self._hub.input_dtype() or tf.float32).name
            inputs = keras.tree.map_shape_structure(
                lambda s: keras.KerasTensor(tuple(s), dtype=dtype), input_shape
            )
            return keras.tree.map_structure(lambda t: t.shape, self.compute_output_spec(inputs))
        batch = shapes[0][0] if shapes and shapes[0] else None
        return tf.nest.map_structure(lambda s: (batch, *s.as_list()), self._output_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **layer_config(self._handle, self._hub, self._tags, self._output_shape),
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: Any = None, safe_mode: bool | None = None
    ) -> Keras3Layer:
        """Rebuilds the layer, which loads (and later runs) the model its handle names: refused
        in Keras safe mode (like ``keras.layers.TFSMLayer``) unless ``safe_mode=False``."""
        if safe_mode if safe_mode is not None else _in_safe_mode():
            raise LayerConfigError(
                "Refusing to rebuild a tfhub.KerasLayer in Keras safe mode: it loads the "
                f"external model {config.get('handle')!r}, whose graph runs when called. If you "
                "trust it, load with safe_mode=False or call "
                "keras.config.enable_unsafe_deserialization()."
            )
        return cls(**config)
