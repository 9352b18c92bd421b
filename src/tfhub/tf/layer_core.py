"""What the Keras 3 and the tf_keras ``KerasLayer`` share: loading, the original library's
argument rules, picking the function to call, ``training`` and output handling.

Example:
    >>> core = HubCallable("/path/to/saved_model")  # doctest: +SKIP
    >>> core.call(x, training=False)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from typing import Any

import tensorflow as tf

from tfhub.errors import LayerConfigError  # still importable from here, as it used to be
from tfhub.tf.load import load


def _is_handle(handle: Any) -> bool:
    return isinstance(handle, str | os.PathLike)


def to_shapes(nest: Any) -> Any:
    """Turns a nest of tuples/lists of int-or-None into ``tf.TensorShape`` leaves."""
    if isinstance(nest, dict):
        return {k: to_shapes(v) for k, v in nest.items()}
    if isinstance(nest, tf.TensorShape):
        return nest
    if isinstance(nest, list | tuple) and all(d is None or isinstance(d, int) for d in nest):
        return tf.TensorShape(nest)
    if isinstance(nest, list | tuple):
        return type(nest)(to_shapes(v) for v in nest)
    raise LayerConfigError(f"output_shape must be a shape or a nest of shapes, got {nest!r}.")


def from_shapes(nest: Any) -> Any:
    """The JSON-friendly inverse of :func:`to_shapes`."""
    if isinstance(nest, tf.TensorShape):
        return list(nest.as_list())
    if isinstance(nest, dict):
        return {k: from_shapes(v) for k, v in nest.items()}
    return [from_shapes(v) for v in nest]


class HubCallable:
    """The loaded model and the rules for calling it from a Keras layer."""

    def __init__(
        self,
        handle: Any,
        *,
        trainable: bool = False,
        tags: Any = None,
        load_options: Any = None,
        signature: str | None = None,
        signature_outputs_as_dict: bool | None = None,
        output_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        if _is_handle(handle):
            # Trainable, a TF1 Hub module loads as a tfhub.tf1.reusable.ReusableHubModule:
            # its `train` variant runs when training, over the same variables.
            self.obj = load(handle, tags=tags, options=load_options, trainable=trainable)
            self.label = os.fspath(handle)
        elif callable(handle):
            if tags is not None or load_options is not None:
                raise LayerConfigError(
                    "A callable handle is already loaded: do not pass tags or load_options."
                )
            self.obj, self.label = handle, type(handle).__name__
        else:
            raise LayerConfigError(
                f"handle must be a path, URL or loaded model, got {type(handle).__name__}."
            )
        self.is_hub_module_v1 = bool(getattr(self.obj, "_is_hub_module_v1", False))
        self.is_reusable_tf1 = bool(getattr(self.obj, "_is_reusable_hub_module", False))
        self.signature = signature
        self.output_key = output_key
        self.signature_outputs_as_dict = signature_outputs_as_dict
        self.arguments = dict(arguments or {})
        self._apply_format_defaults()
        self.func = self._pick_function()
        self.accepts_training = _accepts_training(self.func)
        self.only_runs_graphs = _only_runs_graphs(self.func)
        self._check_output_key()

    def _apply_format_defaults(self) -> None:
        if self.is_hub_module_v1 or self.is_reusable_tf1:
            self.signature = self.signature or "default"
            if not self.signature_outputs_as_dict:
                self.output_key = self.output_key or "default"
        if self.signature and (self.output_key is not None) == bool(self.signature_outputs_as_dict):
            raise LayerConfigError(
                "When using a signature, set either output_key or signature_outputs_as_dict=True "
                f"(got output_key={self.output_key!r}, "
                f"signature_outputs_as_dict={self.signature_outputs_as_dict!r})."
            )
        if not self.signature and self.signature_outputs_as_dict:
            raise LayerConfigError(
                "signature_outputs_as_dict is only valid with a signature (or a TF1 Hub module)."
            )

    def signature_names(self) -> list[str]:
        signatures = getattr(self.obj, "signatures", None)
        return sorted(signatures.keys()) if signatures is not None else []

    def _pick_function(self) -> Any:
        if self.is_reusable_tf1:  # its __call__ takes the signature and training=
            return functools.partial(self.obj, signature=self.signature, as_dict=True)
        if callable(self.obj) and not self.signature:
            return self.obj
        available = ", ".join(self.signature_names()) or "none"
        if self.signature is None:
            raise LayerConfigError(
                f"{self.label} is not callable: pass signature= (available: {available})."
            )
        if not hasattr(self.obj, "signatures") or self.signature not in self.obj.signatures:
            raise LayerConfigError(
                f"No signature {self.signature!r} in {self.label}. Available: {available}."
            )
        return self.obj.signatures[self.signature]

    def _check_output_key(self) -> None:
        """Refuses an unknown ``output_key`` now if the function's outputs are known."""
        outputs = getattr(self.func, "structured_outputs", None)
        if self.output_key is not None and isinstance(outputs, dict):
            self.select_output(outputs)

    # -- weights and losses -----------------------------------------------------------
    def variables(self) -> tuple[list[Any], list[Any]]:
        """``(trainable, non_trainable)`` variables of the model, each once."""
        trainable = list(getattr(self.obj, "trainable_variables", []) or [])
        seen = {id(v) for v in trainable}
        rest = [v for v in getattr(self.obj, "variables", []) or [] if id(v) not in seen]
        return trainable, rest

    def regularization_losses(self) -> list[Any]:
        losses = list(getattr(self.obj, "regularization_losses", []) or [])
        for fn in losses:
            if not callable(fn):
                raise LayerConfigError(
                    f"{self.label}: regularization_losses must be callables returning a scalar "
                    f"loss, found {type(fn).__name__}."
                )
        return losses

    def check_trainable(self) -> None:
        """Raises for fine-tuning set-ups that cannot work."""
        if self.signature and not (self.is_hub_module_v1 or self.is_reusable_tf1):
            raise LayerConfigError(
                f"trainable=True is unsupported when calling signature {self.signature!r}: "
                "signatures have no training mode, update ops or regularization losses. "
                "Call the model's __call__ (leave signature unset) to fine-tune."
            )

    # -- calling ----------------------------------------------------------------------
    def input_specs(self) -> list[Any]:
        """The ``tf.TensorSpec`` of every input the traced function(s) take (may be empty:
        a plain Python callable has none)."""
        # A loaded object's __call__ is the restored tf.function (noqa: it is not a test of
        # callability).
        for target in (self.func, getattr(self.func, "__call__", None)):  # noqa: B004
            if target is None:
                continue
            concrete = getattr(target, "concrete_functions", None)
            if concrete is None and hasattr(target, "structured_input_signature"):
                concrete = [target]
            if concrete:
                try:
                    return [s for c in concrete for s in _flat_specs(c.structured_input_signature)]
                except (AttributeError, TypeError):
                    return []
        return []

    def input_dtype(self) -> Any:
        """The dtype of the function's inputs, if all of them have the same one."""
        dtypes = {s.dtype for s in self.input_specs()}
        return dtypes.pop() if len(dtypes) == 1 else None

    def float_input_dtype(self) -> Any:
        """The floating dtype the function's inputs expect, if there is exactly one."""
        floats = {s.dtype for s in self.input_specs() if s.dtype.is_floating}
        return floats.pop() if len(floats) == 1 else None

    def call(self, inputs: Any, training: Any) -> Any:
        """Calls the model; ``training`` is a bool or bool tensor (already combined with
        the layer's trainability), passed only if the model's ``__call__`` accepts it."""
        if not self.arguments and not (self.signature and isinstance(inputs, dict)):
            # The common case, without building argument lists (this runs on every eager
            # call of the layer).
            if not self.accepts_training:
                return self.select_output(self.func(inputs))
            if training is True or training is False:
                return self.select_output(self.func(inputs, training=training))
        args: list[Any] = []
        kwargs = dict(self.arguments)
        if self.signature and isinstance(inputs, dict):
            kwargs.update(inputs)
        else:
            args.append(inputs)
        if not self.accepts_training:
            result = self.func(*args, **kwargs)
        elif isinstance(training, bool):
            result = self.func(*args, training=training, **kwargs)
        else:
            result = tf.cond(
                tf.cast(training, tf.bool),
                lambda: self.func(*args, training=True, **kwargs),
                lambda: self.func(*args, training=False, **kwargs),
            )
        return self.select_output(result)

    def select_output(self, result: Any) -> Any:
        if not self.output_key:
            return result
        if not isinstance(result, dict):
            raise LayerConfigError(
                f"output_key={self.output_key!r} needs a dict output, but {self.label} returned "
                f"{type(result).__name__}."
            )
        if self.output_key not in result:
            raise LayerConfigError(
                f"No output {self.output_key!r} in {self.label}. "
                f"Available: {', '.join(sorted(result))}."
            )
        return result[self.output_key]


def cast_floats(inputs: Any, dtype: Any) -> Any:
    """Casts the floating tensors of ``inputs`` to ``dtype`` (the model's input dtype, e.g.
    float32 when a mixed-precision model feeds float16); other tensors are left alone."""
    if dtype is None:
        return inputs
    if isinstance(inputs, tf.Tensor):  # one tensor (the common case): no nest to map
        x_dtype = inputs.dtype
        if x_dtype is dtype or x_dtype == dtype or not x_dtype.is_floating:
            return inputs
        return tf.cast(inputs, dtype)

    def cast(x: Any) -> Any:
        x_dtype = getattr(x, "dtype", None)
        if x_dtype is None or not tf.as_dtype(x_dtype).is_floating or x_dtype == dtype:
            return x
        return tf.cast(x, dtype)

    return tf.nest.map_structure(cast, inputs)


def apply_output_shape(inputs: Any, outputs: Any, output_shape: Any) -> Any:
    """Sets ``output_shape`` (a nest of shapes without the batch dimension) on ``outputs``,
    with the batch dimension of the first input; explains a mismatch."""
    if output_shape is None:
        return outputs
    batch = tf.TensorShape(tf.nest.flatten(inputs)[0].shape[:1])

    def set_shape(tensor: Any, shape: Any) -> Any:
        wanted = batch.concatenate(shape)
        if not tensor.shape.is_compatible_with(wanted):
            raise LayerConfigError(
                f"output_shape={from_shapes(output_shape)!r} does not fit the model: it "
                f"returns shape {tensor.shape}, output_shape asks for {wanted} (output_shape "
                "leaves out the batch dimension)."
            )
        tensor.set_shape(wanted)
        return tensor

    try:
        return tf.nest.map_structure(set_shape, outputs, output_shape, check_types=False)
    except (TypeError, ValueError) as e:
        if isinstance(e, LayerConfigError):
            raise
        raise LayerConfigError(
            f"output_shape={from_shapes(output_shape)!r} does not have the structure of the "
            f"model's outputs: {e}"
        ) from e


def weight_names(variables: list[Any]) -> list[str]:
    """Names for the layer's weights: the variables' names, made unique (``name_1``, ...)
    and without ``/`` or ``:0`` (as Keras 3 and h5 saving require)."""
    names, seen = [], set()
    for v in variables:
        base = str(v.name).split(":")[0].replace("/", "_") or "variable"
        name, n = base, 0
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    return names


def _flat_specs(signature: Any) -> list[Any]:
    return [s for s in tf.nest.flatten(signature) if isinstance(s, tf.TensorSpec)]


def _only_runs_graphs(func: Any) -> bool:
    """Whether calling ``func`` only runs traced graphs (a loaded object's ``__call__``, a
    signature, a concrete function): no Python code of the user's that could create variables
    or call Keras layers, so nothing that depends on the Keras call context or name scope."""
    try:
        from tensorflow.python.saved_model.function_deserialization import RestoredFunction
        from tensorflow.python.saved_model.load import _call_attribute
    except ImportError:  # pragma: no cover - TF moved them: assume Python code may run
        return False
    if isinstance(func, RestoredFunction | tf.types.experimental.ConcreteFunction):
        return True
    # A loaded object: its class's __call__ forwards to the restored function it holds.
    held = vars(func).get("__call__") if hasattr(func, "__dict__") else None
    return vars(type(func)).get("__call__") is _call_attribute and isinstance(
        held, RestoredFunction
    )


def _accepts_training(func: Any) -> bool:
    """Whether ``func`` takes a ``training`` argument by name, like the original's check of
    ``func.__call__``'s argspec: a loaded object's ``__call__`` is a restored ``tf.function``
    whose signature names its arguments, while a signature takes only its inputs."""
    import inspect

    for target in (getattr(func, "__call__", None), func):  # noqa: B004
        if target is None:
            continue
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):
            continue
        param = params.get("training")
        if param is not None and param.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            return True
    return False


def layer_config(handle: Any, hub: HubCallable, tags: Any, output_shape: Any) -> dict[str, Any]:
    """The ``KerasLayer`` config entries both Kerases save (``None`` values left out)."""
    if not isinstance(handle, str | os.PathLike):
        raise NotImplementedError(
            "Only a KerasLayer built from a string handle can be serialized; "
            f"got a {type(handle).__name__}."
        )
    entries = {
        "handle": str(handle),
        "arguments": hub.arguments or None,
        "signature": hub.signature,
        "output_key": hub.output_key,
        "signature_outputs_as_dict": hub.signature_outputs_as_dict,
        "tags": tags,
        "output_shape": from_shapes(output_shape) if output_shape is not None else None,
    }
    return {k: v for k, v in entries.items() if v is not None}
