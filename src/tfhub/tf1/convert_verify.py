"""``tfhub convert``'s check: the source module, loaded the TF1 way (as ``tfhub.load`` does:
``tf.saved_model.load`` of its inference variant), and a fresh ``tf.saved_model.load`` of the
converted SavedModel run on the same sample inputs, for every signature and every way the
converted model exposes it; their variables and regularization losses are compared too.

A value passes when ``|converted - source| <= tolerance * max(1, |source|)`` element-wise
(absolute for values up to 1, relative above); integers, booleans, strings, shapes and sparse
indices must be equal. The reported difference is the largest absolute difference.

Example:
    >>> result = verify(spec, obj, "/tmp/converted", 1e-5, [])  # doctest: +SKIP
    >>> result.differences  # doctest: +SKIP
    {'default': 0.0, 'words': 0.0}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfhub.core.hub_module import Signature, TensorSpecInfo
from tfhub.errors import ConvertError
from tfhub.tf1._tf import tf
from tfhub.tf1.convert_build import SERVING_DEFAULT, flatten
from tfhub.tf1.reusable import ReusableHubModule
from tfhub.tf1.sample_inputs import sample_inputs, vocabulary_words
from tfhub.tf1.spec import ModuleSpec

logger = logging.getLogger("tfhub.convert")
_RANDOM_RUNS = 6
"""Extra runs of the source that look for random outputs: an output with two elements under
50 % dropout looks deterministic in all of them with probability (2 * 0.5**7)**2, 0.02 %."""
_SKIP_HINT = "Pass --no-verify (verify=False) to convert without this check."


@dataclass
class Verification:
    """Largest absolute differences (signature -> value) and what exceeded the tolerance."""

    differences: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    random_outputs: list[str] = field(default_factory=list)
    variables_difference: float = 0.0
    regularization_difference: float | None = None


def difference(expected: Any, got: Any, tolerance: float) -> tuple[float, bool]:
    """The largest absolute difference of two arrays and whether they are within
    ``tolerance`` (see the module docstring).

    >>> difference(np.array([1.0, 200.0]), np.array([1.0, 200.001]), 1e-5)
    (0.0010000000000047748, True)
    >>> difference(np.array([1, 2]), np.array([1, 3]), 1.0)
    (1.0, False)
    >>> difference(np.float32(np.nan), np.float32(np.nan), 0.0)
    (0.0, True)
    """
    a, b = np.asarray(expected), np.asarray(got)
    if a.shape != b.shape:
        return math.inf, False
    if a.size == 0:
        return 0.0, True
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
        a, b = a.astype(wide).reshape(-1), b.astype(wide).reshape(-1)
        diff = np.abs(a - b)
        diff[np.isnan(a) & np.isnan(b)] = 0.0
        diff[np.isnan(diff)] = math.inf
        limit = tolerance * np.maximum(1.0, np.nan_to_num(np.abs(a)))
        return float(diff.max()), bool(np.all(diff <= limit))
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        largest = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
        return largest, largest == 0.0
    same = bool(np.array_equal(a, b))
    return (0.0 if same else math.inf), same


def _compare(
    label: str,
    expected: Mapping[str, Any],
    got: Mapping[str, Any],
    tolerance: float,
    problems: list[str],
) -> float:
    """Compares flat named outputs; records a problem per output beyond tolerance."""
    largest = 0.0
    for name, value in expected.items():
        if name not in got:
            problems.append(f"{label}: output {name!r} is missing")
            largest = math.inf
            continue
        diff, ok = difference(_numpy(value), _numpy(got[name]), tolerance)
        largest = max(largest, diff)
        if not ok:
            problems.append(f"{label}: output {name!r} differs by {diff:.3g}")
    return largest


def _numpy(value: Any) -> Any:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _call_value(signature: Signature, inputs: Mapping[str, Any]) -> Any:
    """What a caller passes as ``inputs``: the value of a one-input signature, else a dict."""
    if not inputs:
        return None
    return next(iter(inputs.values())) if len(inputs) == 1 else dict(inputs)


def _run_source(source: Any, signature: Signature, inputs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        outputs = source.signatures[signature.name](**flatten(signature.inputs, inputs))
    except Exception as e:  # TF raises many types for inputs a graph rejects
        raise ConvertError(
            f"Cannot verify signature {signature.name!r}: the source module rejected the sample "
            f"inputs ({type(e).__name__}: {str(e).splitlines()[0][:300]}). {_SKIP_HINT}"
        ) from e
    return flatten(signature.outputs, outputs)


def _converted_outputs(
    converted: Any, signature: Signature, inputs: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The converted model's outputs by the ways it exposes the signature."""
    name = signature.name
    flat_inputs = flatten(signature.inputs, inputs)
    runs = {
        f"signatures[{name!r}]": dict(converted.signatures[name](**flat_inputs)),
        f"signature_functions[{name!r}]": flatten(
            signature.outputs, converted.signature_functions[name](_call_value(signature, inputs))
        ),
    }
    if name == "default":
        runs[f"signatures[{SERVING_DEFAULT!r}]"] = dict(
            converted.signatures[SERVING_DEFAULT](**flat_inputs)
        )
        result = converted(_call_value(signature, inputs))
        outputs = result if isinstance(result, dict) else {"default": result}
        infos: dict[str, TensorSpecInfo] = {k: signature.outputs[k] for k in outputs}
        runs["__call__"] = flatten(infos, outputs)
    return runs


def _random_outputs(
    source: Any, signature: Signature, inputs: Mapping[str, Any], expected: Mapping[str, Any],
    tolerance: float,
) -> set[str]:  # fmt: skip
    """The outputs that differ between runs of the source (dropout, sampling). Several runs:
    with a few elements, two dropout masks are often equal by chance (half the time for two
    elements kept with probability 0.5)."""
    random: set[str] = set()
    for _ in range(_RANDOM_RUNS):
        again = _run_source(source, signature, inputs)
        random |= {
            k
            for k, v in expected.items()
            if k not in random and not difference(_numpy(v), _numpy(again[k]), tolerance)[1]
        }
        if len(random) == len(expected):
            break
    return random


def _check_signature(
    source: Any,
    converted: Any,
    signature: Signature,
    words: Sequence[str],
    tolerance: float,
    result: Verification,
) -> float:
    inputs = sample_inputs(signature, words)
    expected = _run_source(source, signature, inputs)
    random = _random_outputs(source, signature, inputs, expected, tolerance)
    if random:
        logger.warning(
            "signature %r: %s change from run to run in the source module; not compared",
            signature.name,
            ", ".join(sorted(random)),
        )
        result.random_outputs += [f"{signature.name}:{k}" for k in sorted(random)]
        expected = {k: v for k, v in expected.items() if k not in random}
    try:
        runs = _converted_outputs(converted, signature, inputs)
    except Exception as e:  # the converted model must run what the source runs
        raise ConvertError(
            f"The converted model failed on signature {signature.name!r} with the sample "
            f"inputs the source module accepts ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:300]})."
        ) from e
    largest = 0.0
    for label, outputs in runs.items():
        subset = {k: v for k, v in expected.items() if label != "__call__" or k in outputs}
        largest = max(largest, _compare(label, subset, outputs, tolerance, result.problems))
    return largest


def _check_training(converted: Any, variant: Any, words: Sequence[str]) -> None:
    """Runs ``__call__(..., training=True)`` once: the training trace works after loading."""
    signature = variant.signatures.get("default")
    if signature is None or not callable(converted):
        return
    try:
        converted(_call_value(signature, sample_inputs(signature, words)), training=True)
    except Exception as e:  # the converted model must train what the source trains
        raise ConvertError(
            f"The converted model failed to run with training=True ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:300]})."
        ) from e


def _check_variables(
    source: Any, converted: Any, spec: ModuleSpec, obj: ReusableHubModule, tolerance: float,
    problems: list[str],
) -> float:  # fmt: skip
    mine = {v.name: v for v in converted.variables}
    largest = 0.0
    for variable in source.variables:
        if variable.name not in mine:
            problems.append(f"variable {variable.name!r} is missing")
            largest = math.inf
            continue
        diff, ok = difference(variable.numpy(), mine[variable.name].numpy(), tolerance)
        largest = max(largest, diff)
        if not ok:
            problems.append(f"variable {variable.name!r} differs by {diff:.3g}")
    tags = {obj.inference_tags, obj.train_tags}
    expected = {name for t in tags for name in spec.variant(t).trainable_variables}
    trainable = {v.name.split(":", 1)[0] for v in converted.trainable_variables}
    if trainable != expected:
        problems.append(
            f"trainable variables differ: converted {sorted(trainable)}, module {sorted(expected)}"
        )
    return largest


def _check_losses(
    converted: Any, expected: Sequence[float], tolerance: float, problems: list[str]
) -> float | None:
    if not expected:
        return None
    got = [float(loss()) for loss in converted.regularization_losses]
    if len(got) != len(expected):
        problems.append(f"{len(got)} regularization losses, the module has {len(expected)}")
        return math.inf
    diff, ok = difference(np.array(expected), np.array(got), tolerance)
    if not ok:
        problems.append(f"regularization losses differ by {diff:.3g}")
    return diff


def verify(
    spec: ModuleSpec,
    obj: ReusableHubModule,
    converted_dir: str,
    tolerance: float,
    regularization: Sequence[float],
) -> Verification:
    """Loads the source module (``spec``'s directory) and ``converted_dir`` afresh and compares
    them (see the module docstring); ``regularization`` are the module's regularization losses
    before saving.

    Raises:
        ConvertError: a model cannot run the sample inputs.
    """
    module_dir = spec.module_dir
    if module_dir is None:
        raise ConvertError("Verifying needs a module read from a directory.")
    # What tfhub.load does for a TF1 Hub module, without reading the module's files again.
    source = tf().saved_model.load(module_dir, tags=sorted(obj.inference_tags))
    converted = tf().saved_model.load(converted_dir)
    variant = obj.variant_graph(False).variant
    words = vocabulary_words(module_dir, variant.assets)
    result = Verification()
    result.variables_difference = _check_variables(
        source, converted, spec, obj, tolerance, result.problems
    )
    for name, signature in sorted(variant.signatures.items()):
        logger.info("verifying signature %r", name)
        result.differences[name] = _check_signature(
            source, converted, signature, words, tolerance, result
        )
    result.regularization_difference = _check_losses(
        converted, regularization, tolerance, result.problems
    )
    _check_training(converted, variant, words)  # last: it may update moving statistics
    return result
