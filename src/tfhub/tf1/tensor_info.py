"""Signature inputs and outputs: described (``ParsedTensorInfo``), converted from what a caller
passes, and mapped onto the tensors of a module graph (dense, sparse and ragged)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tfhub.core.hub_module import TensorSpecInfo
from tfhub.errors import ModelFormatError, ModuleCallError, ModuleDefinitionError
from tfhub.tf1._tf import tf, v1


class ParsedTensorInfo:
    """What a signature input or output is, without a tensor: ``dtype``, ``get_shape()``,
    ``is_sparse``, ``is_composite`` and ``type_spec`` (the original library's interface).

    Example:
        >>> info = spec.get_input_info_dict()["default"]  # doctest: +SKIP
        >>> info.dtype, info.get_shape().as_list(), info.is_sparse  # doctest: +SKIP
        (tf.float32, [None, 3], False)
    """

    def __init__(self, info: TensorSpecInfo) -> None:
        self.info = info
        self._type_spec = type_spec_of(info)

    @property
    def dtype(self) -> Any:
        return self._type_spec.dtype

    def get_shape(self) -> Any:
        return self._type_spec.shape

    @property
    def is_sparse(self) -> bool:
        return self.info.kind == "sparse"

    @property
    def is_composite(self) -> bool:
        return self.info.kind != "dense"

    @property
    def type_spec(self) -> Any:
        return self._type_spec

    def __repr__(self) -> str:
        if self.info.kind == "ragged":
            return f"<hub.ParsedTensorInfo type_spec={self._type_spec}>"
        return (
            f"<hub.ParsedTensorInfo shape={self.get_shape()} dtype={self.dtype.name} "
            f"is_sparse={self.is_sparse}>"
        )


def _dtype(name: str) -> Any:
    try:
        return tf().dtypes.as_dtype(name)
    except TypeError as e:
        raise ModelFormatError(f"Unknown dtype {name!r} in a module signature.") from e


def type_spec_of(info: TensorSpecInfo) -> Any:
    """The ``tf.TypeSpec`` of a signature input or output."""
    shape = None if info.shape is None else list(info.shape)
    if info.kind == "dense":
        return tf().TensorSpec(shape, _dtype(info.dtype))
    if info.kind == "sparse":
        return tf().SparseTensorSpec(shape, _dtype(info.dtype))
    if info.kind == "ragged":
        return tf().RaggedTensorSpec(
            shape, _dtype(info.dtype), info.ragged_rank, _dtype(info.row_splits_dtype or "int64")
        )
    raise ModelFormatError(
        f"Signature tensors of type {info.type_spec_class or 'unknown'} are not supported "
        "(only dense, sparse and ragged tensors)."
    )


def tensor_info_proto(name: str, value: Any) -> Any:
    """The ``TensorInfo`` proto of a tensor passed to ``add_signature``."""
    t = tf()
    if not isinstance(value, t.Tensor | t.SparseTensor | t.RaggedTensor):
        raise ModuleDefinitionError(
            f"add_signature(): {name!r} is a {type(value).__name__}; expected a tf.Tensor, "
            "tf.SparseTensor or tf.RaggedTensor (for a variable, pass variable.value())."
        )
    from tensorflow.python.util import deprecation  # type: ignore[import-untyped]

    with deprecation.silence():  # "designed for TF1" noise: this *is* the TF1 format
        return v1().saved_model.utils.build_tensor_info(value)


def _convert(value: Any, target: ParsedTensorInfo) -> Any:
    t = tf()
    if target.info.kind == "sparse" and isinstance(value, v1().SparseTensorValue):
        return t.SparseTensor.from_value(value)
    if isinstance(value, t.SparseTensor | t.RaggedTensor):
        return value
    if target.info.kind == "ragged":
        return t.ragged.constant(value, target.dtype, ragged_rank=target.info.ragged_rank)
    return t.convert_to_tensor(value, dtype=target.dtype)


def _kind_name(spec: Any) -> str:
    return str(spec.value_type.__name__)


def named_inputs(inputs: Any, names: Iterable[str], signature: str) -> dict[str, Any]:
    """The inputs of a call as a dict with exactly the signature's input ``names``: a single
    value is the only input, None is no input.

    Raises:
        ModuleCallError: names are missing or extra, or one value for several inputs.
    """
    expected = set(names)
    if inputs is None:
        given: dict[str, Any] = {}
    elif isinstance(inputs, Mapping):
        given = dict(inputs)
    elif len(expected) == 1:
        given = {next(iter(expected)): inputs}
    else:
        listed = ", ".join(sorted(expected)) or "none"
        raise ModuleCallError(f"Signature {signature!r} takes inputs {listed}: pass a dict.")
    missing, extra = sorted(expected - set(given)), sorted(set(given) - expected)
    if missing or extra:
        raise ModuleCallError(
            f"Inputs do not match signature {signature!r}: missing {missing}, extra {extra}."
        )
    return given


def convert_inputs(
    inputs: Any, targets: Mapping[str, ParsedTensorInfo], signature: str
) -> dict[str, Any]:
    """The inputs of a ``Module.__call__`` as a dict of tensors that fit the signature.

    Raises:
        ModuleCallError: names are missing or extra, or a value does not fit.
    """
    given = named_inputs(inputs, targets, signature)
    return {key: _checked(key, given[key], targets[key]) for key in sorted(given)}


def _checked(key: str, value: Any, target: ParsedTensorInfo) -> Any:
    try:
        tensor = _convert(value, target)
    except (TypeError, ValueError) as e:
        raise ModuleCallError(f"Can't convert input {key!r}: {e}") from e
    spec = tf().type_spec_from_value(tensor)
    if not spec.is_compatible_with(target.type_spec):
        got, want = spec, target.type_spec
        if spec.value_type is not target.type_spec.value_type:
            got, want = _kind_name(spec), _kind_name(target.type_spec)
        raise ModuleCallError(f"Can't convert input {key!r}: got {got}, expected {want}.")
    return tensor


def input_feeds(info: TensorSpecInfo, value: Any) -> dict[str, Any]:
    """Graph tensor name -> the tensor to feed in its place, for one signature input."""
    parts = tf().nest.flatten(value, expand_composites=True)
    if len(parts) != len(info.components):
        raise ModuleCallError(
            f"Input has {len(parts)} component tensors; the signature expects "
            f"{len(info.components)}."
        )
    return dict(zip(info.components, parts, strict=True))


def build_output(info: TensorSpecInfo, get_tensor: Callable[[str], Any]) -> Any:
    """The value of one signature output, from the tensors of the instantiated graph."""
    parts = [get_tensor(name) for name in info.components]
    if info.kind == "dense":
        return parts[0]
    if info.kind == "sparse":
        return tf().SparseTensor(*parts)
    return tf().nest.pack_sequence_as(type_spec_of(info), parts, expand_composites=True)
