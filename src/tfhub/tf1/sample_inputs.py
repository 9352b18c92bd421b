"""Sample inputs for a TF1 Hub module signature, built from its specs (for ``tfhub convert``'s
verification): dense, sparse and ragged tensors of every dtype, unknown dimensions given small
sizes, strings drawn from the module's vocabulary asset plus out-of-vocabulary words.

Every unknown outer dimension is :data:`BATCH` and every other unknown dimension
:data:`LENGTH`, the same in all inputs, so inputs that must agree (ids, mask and segment ids of
a text encoder) do. Integers are 0 or 1: valid ids, masks and segment ids alike.

Example:
    >>> inputs = sample_inputs(spec.variant().signature("default"), ["a", "b"])  # doctest: +SKIP
    >>> {k: v.shape for k, v in inputs.items()}  # doctest: +SKIP
    {'x': TensorShape([2, 3])}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tfhub.core.hub_module import AssetFile, Signature, TensorSpecInfo, asset_path
from tfhub.errors import ModelFormatError
from tfhub.tf1._tf import tf
from tfhub.tf1.tensor_info import type_spec_of

BATCH = 2
LENGTH = 3
OOV_WORDS = ("tfhub-oov-word", "")
_MAX_WORDS = 8
_MAX_ASSET_BYTES = 1 << 20


def vocabulary_words(module_dir: str, assets: Iterable[AssetFile]) -> list[str]:
    """Up to a few words from the module's text assets (the first field of their first
    lines), then :data:`OOV_WORDS`."""
    words: list[str] = []
    for asset in assets:
        try:
            path = asset_path(module_dir, asset.filename)
            if "://" in path or os.path.getsize(path) > _MAX_ASSET_BYTES:
                continue
            with open(path, encoding="utf-8") as f:
                lines = [f.readline() for _ in range(_MAX_WORDS)]
        except (OSError, UnicodeDecodeError, ModelFormatError):
            continue
        fields = [line.split("\t")[0].split(" ")[0].strip() for line in lines]
        words += [w for w in fields if w and w not in words][: _MAX_WORDS - len(words)]
    return words + list(OOV_WORDS)


def _shape(shape: Sequence[int | None] | None) -> list[int]:
    if shape is None:
        return [BATCH]
    return [(BATCH if i == 0 else LENGTH) if d is None else d for i, d in enumerate(shape)]


def _values(
    dtype: Any, shape: Sequence[int], words: Sequence[str], rng: np.random.Generator
) -> np.ndarray:
    """Random values of ``dtype`` and ``shape``."""
    size = int(np.prod(shape, dtype=np.int64))
    if dtype == tf().string:
        picks = rng.integers(0, len(words), size) if words else np.zeros(size, np.int64)
        chosen = [words[i].encode("utf-8") if words else b"" for i in picks]
        return np.array(chosen, dtype=object).reshape(shape)
    if dtype == tf().bool:
        return rng.integers(0, 2, size).astype(bool).reshape(shape)
    if dtype.is_floating or dtype.is_complex:
        return rng.standard_normal(size).astype(dtype.as_numpy_dtype).reshape(shape)
    if dtype.is_integer:
        return rng.integers(0, 2, size).astype(dtype.as_numpy_dtype).reshape(shape)
    raise ModelFormatError(f"Cannot build sample inputs of dtype {dtype.name}.")


def _sparse(info: TensorSpecInfo, words: Sequence[str], rng: np.random.Generator) -> Any:
    """A sparse tensor with a few entries per row (some rows empty), indices in order."""
    dense_shape = _shape(info.shape if info.shape else (None, None))
    cells = [index for index in np.ndindex(*dense_shape) if rng.random() < 0.6]
    if not cells:
        cells = [tuple(0 for _ in dense_shape)]
    dtype = type_spec_of(info).dtype
    values = _values(dtype, [len(cells)], words, rng)
    return tf().SparseTensor(
        np.array(cells, np.int64).reshape(len(cells), len(dense_shape)), values, dense_shape
    )


def _ragged(info: TensorSpecInfo, words: Sequence[str], rng: np.random.Generator) -> Any:
    """A ragged tensor: rows of 0 to :data:`LENGTH` items at each ragged level."""
    spec = type_spec_of(info)
    shape = _shape(info.shape) if info.shape is not None else [BATCH, LENGTH]
    rank = spec.ragged_rank or 1
    lengths, rows = [], shape[0]
    for _ in range(rank):
        level = rng.integers(0, LENGTH + 1, rows)
        lengths.append(level.astype(spec.row_splits_dtype.as_numpy_dtype))
        rows = int(level.sum())
    inner = [LENGTH if d is None else d for d in shape[rank + 1 :]]
    flat = _values(spec.dtype, [rows, *inner], words, rng)
    return tf().RaggedTensor.from_nested_row_lengths(flat, lengths)


def sample_input(info: TensorSpecInfo, words: Sequence[str], rng: np.random.Generator) -> Any:
    """One sample value for a signature input."""
    if info.kind == "sparse":
        return _sparse(info, words, rng)
    if info.kind == "ragged":
        return _ragged(info, words, rng)
    dtype = type_spec_of(info).dtype
    return tf().constant(_values(dtype, _shape(info.shape), words, rng), dtype=dtype)


def sample_inputs(signature: Signature, words: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Sample values for every input of ``signature`` (deterministic for a ``seed``).

    Raises:
        ModelFormatError: an input of a kind or dtype that cannot be sampled.
    """
    rng = np.random.default_rng(seed)
    inputs = signature.inputs
    return {name: sample_input(inputs[name], words, rng) for name in sorted(inputs)}
