"""The TF1 Hub format rows of the compatibility table, TF1 compatibility mode column: load /
inference, fine-tuning and creation with ``tf.compat.v1.disable_v2_behavior()``.

``disable_v2_behavior`` is process-wide, so each test runs one script of ``compat_scripts/``
in a fresh interpreter (with a timeout) and checks the ``RESULT`` JSON line it prints; what
the scripts export is checked here, in TF2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import tfhub
from support.compat import run_compat_script
from tf1.hub_fixture import (
    BIAS,
    EMBEDDINGS,
    KERNEL,
    MOMENTUM,
    WORDS,
    X,
    dense_reference,
    words_reference,
)
from tfhub.core.hub_module import read_hub_module

SCRIPTS = Path(__file__).resolve().parent / "compat_scripts"
TIMEOUT = 120  # seconds per script; each takes ~10 s, mostly importing TensorFlow


def run_script(name: str, *args: Any) -> dict[str, Any]:
    """Runs ``compat_scripts/<name>.py args...`` in a fresh interpreter; its RESULT."""
    return run_compat_script(SCRIPTS, name, *args, timeout=TIMEOUT)


def _close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.array(actual), expected, rtol=1e-5, atol=1e-6)


def test_load_and_inference_in_compat_mode(hub_module: Path) -> None:
    result = run_script("use_module", hub_module)
    assert result["eager"] is False
    assert result["tags"] == [[], ["train"]]
    assert result["signatures"] == ["default", "words"]
    moved = np.maximum(X @ KERNEL + 5.0, 0)  # the first instance's bias was set to 5
    _close(result["dense"], moved)
    _close(result["again"], moved)
    _close(result["other"], dense_reference(X))  # the second instance kept its own bias
    _close(result["hidden"], moved)
    _close(result["words"], words_reference(WORDS))
    _close(result["in_cond"], moved)
    _close(result["in_loop"], 2 * dense_reference(X))
    _close(result["evaluated"], dense_reference(X))
    collections = result["collections"]
    assert collections["trainable_variables"] == []
    assert collections["update_ops"] == [] and collections["regularization_losses"] == []
    assert collections["table_initializer"] == [
        "module/text_file_init/InitializeTableFromTextFileV2",
        "module_1/text_file_init/InitializeTableFromTextFileV2",
    ]
    assert len(collections["variables"]) == 8
    assert result["assets"] == [str(hub_module / "assets" / "vocab.txt")]
    assert result["attached"] == [-1.0, 2.5, 7.0]


def test_fine_tuning_in_compat_mode(hub_module: Path, tmp_path: Path) -> None:
    result = run_script("finetune", hub_module, tmp_path / "trained")
    train, inference = result["train"], result["inference"]
    assert train["trainable_variables"] == [
        "module/dense/bias:0", "module/dense/kernel:0", "module/embeddings:0",
    ]  # fmt: skip
    assert train["update_ops"] == ["module_apply_default/AssignVariableOp"]
    assert len(train["regularization_losses"]) == 2
    assert inference["update_ops"] == []
    for run in (train, inference):
        for name, initial in (("dense/kernel", KERNEL), ("dense/bias", BIAS)):
            _close(run["before"][name], initial)
            assert not np.allclose(run["after"][name], initial), name
        assert not np.allclose(run["after"]["embeddings"], EMBEDDINGS)
    assert np.any(np.array(train["after"]["bn/moving_mean"]) != 0)
    first_step = (1 - MOMENTUM) * np.array(train["hidden"]).mean(axis=0)
    assert not np.allclose(train["after"]["bn/moving_mean"], first_step)  # 3 updates ran
    _close(inference["after"]["bn/moving_mean"], np.zeros(2))
    for name, value in train["after"].items():
        _close(result["reloaded"][name], np.array(value))


def test_creation_in_compat_mode(tmp_path: Path, hub_module: Path) -> None:
    result = run_script("create", tmp_path)
    assert result == {"tags": [[]], "eager": False}
    created, reference = read_hub_module(tmp_path / "fixture"), read_hub_module(hub_module)
    assert created.tags == reference.tags
    for variant in reference.variants:
        assert created.variant(variant.tags).signatures == variant.signatures
        assert created.variant(variant.tags).attachments == variant.attachments
    loaded = tfhub.load(str(tmp_path / "fixture"))
    output = loaded.signatures["default"](x=tf.constant(X))["default"]
    _close(output.numpy(), dense_reference(X))
    linear = tfhub.load(str(tmp_path / "linear"))
    _close(
        linear.signatures["default"](tf.constant(X))["default"].numpy(), X @ [[1.0], [2.0], [3.0]]
    )
