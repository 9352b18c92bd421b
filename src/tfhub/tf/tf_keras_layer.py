"""``KerasLayer`` for the legacy ``tf_keras`` (Keras 2 API), in TF2 and in TF1 compatibility
mode; the counterpart of :mod:`tfhub.tf.keras3_layer`.

Example:
    >>> import tf_keras, tfhub  # doctest: +SKIP
    >>> model = tf_keras.Sequential([tfhub.tf_keras_layer.TfKerasLayer(handle)])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
import tf_keras

from tfhub.tf.layer_core import (
    HubCallable,
    LayerConfigError,
    from_shapes,
    to_shapes,
    weight_names,
)


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
            handle, tags=tags, load_options=load_options, signature=signature,
            signature_outputs_as_dict=signature_outputs_as_dict, output_key=output_key,
            arguments=arguments,
        )  # fmt: skip
        super().__init__(trainable=trainable, **kwargs)
        self._output_shape_nest = to_shapes(output_shape) if output_shape is not None else None
        trainable_vars, other_vars = self._hub.variables()
        names = weight_names(trainable_vars + other_vars)
        for i, v in enumerate(trainable_vars + other_vars):
            self._add_existing_weight(v, names[i], trainable=i < len(trainable_vars))
        for loss in self._hub.regularization_losses():
            self.add_loss(self._loss_if_trainable(loss))

    def _add_existing_weight(self, weight: Any, name: str, trainable: bool) -> None:
        self.add_weight(
            name=name, shape=weight.shape, dtype=weight.dtype,
            trainable=trainable, experimental_autocast=False,
            getter=lambda *_, **__: weight,
        )  # fmt: skip

    def _loss_if_trainable(self, loss: Any) -> Any:
        return lambda: loss() if self.trainable else tf.constant(0.0)

    @property
    def resolved_object(self) -> Any:
        """The loaded model object."""
        return self._hub.obj

    def call(self, inputs: Any, training: Any = None) -> Any:
        if self.trainable:
            self._hub.check_trainable()
            if training is None:
                training = tf_keras.backend.learning_phase()
        else:
            training = False  # like BatchNormalization: frozen means inference
        if isinstance(training, int) and not isinstance(training, bool):
            training = bool(training)
        outputs = self._hub.call(inputs, training)
        return self._apply_output_shape(inputs, outputs)

    def _apply_output_shape(self, inputs: Any, outputs: Any) -> Any:
        if self._output_shape_nest is None:
            return outputs
        batch = tf.nest.flatten(inputs)[0].shape[:1]
        tf.nest.map_structure(
            lambda t, s: t.set_shape(tf.TensorShape(batch).concatenate(s)),
            outputs, self._output_shape_nest,
        )  # fmt: skip
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape_nest is None:
            return super().compute_output_shape(input_shape)
        batch = tf.nest.flatten(input_shape)[0]
        return tf.nest.map_structure(
            lambda s: tf.TensorShape([batch]).concatenate(s), self._output_shape_nest
        )

    def get_config(self) -> dict[str, Any]:
        if not isinstance(self._handle, str | os.PathLike):
            raise NotImplementedError(
                "Only a KerasLayer built from a string handle can be serialized; "
                f"got a {type(self._handle).__name__}."
            )
        config: dict[str, Any] = {**super().get_config(), "handle": str(self._handle)}
        hub = self._hub
        for key, value in (
            ("arguments", hub.arguments or None),
            ("signature", hub.signature if not hub.is_hub_module_v1 else None),
            ("output_key", hub.output_key if not hub.is_hub_module_v1 else None),
            ("signature_outputs_as_dict", hub.signature_outputs_as_dict),
            ("tags", self._tags),
            (
                "output_shape",
                from_shapes(self._output_shape_nest)
                if self._output_shape_nest is not None
                else None,
            ),
        ):
            if value is not None:
                config[key] = value
        return config
