"""The "TF1 compatibility mode" cells of the TF2 SavedModel rows (``../shared/PRODUCT.md``):
``tfhub.load`` + ``Session.run``, fine-tuning with ``tfhub.KerasLayer`` in a ``tf_keras``
model, and ``tf.saved_model.save`` from compatibility mode.

``tf.compat.v1.disable_v2_behavior()`` is process-wide, so each test checks the ``RESULT``
JSON line of one script of ``compat_scripts/`` run in its own Python process (with a
timeout); the runs the selected tests need start together, a few at a time, so tests mostly
wait for processes already running. Models are saved, and the created ones checked and
loaded, here in TF2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub
from support.compat import run_compat_script
from support.models import BIAS, KERNEL, L2, MOMENTUM, reference_output, save_reusable_model

SCRIPTS = Path(__file__).resolve().parent / "compat_scripts"
TIMEOUT = 100  # seconds per script; each takes ~8 s, mostly importing TensorFlow
TRAP = "Connecting to invalid output 1 of source node"
LR = 0.1  # the scripts' learning rate (compat_scripts/_compat.py)
VOCAB_VECTORS = [[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]  # for the words "b", "zzz", "c"
REUSABLE, VOCAB, OUT = "<reusable>", "<vocab>", "<out>"  # paths, filled in by `runs`


def run_script(name: str, *args: Any) -> dict[str, Any]:
    """Runs ``compat_scripts/<name>.py args...`` in a fresh interpreter; its RESULT."""
    return run_compat_script(SCRIPTS, name, *args, timeout=TIMEOUT)


def script(name: str, *args: str) -> Callable[[Any], Any]:
    """Declares the script run whose ``result`` a test checks."""

    def mark(test: Any) -> Any:
        test.script_run = (name, *args)
        return test

    return mark


class Runs:
    """Script runs started in the background, each once, at most ``workers`` at a time."""

    def __init__(self, paths: dict[str, Path], workers: int) -> None:
        self._paths = paths
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._futures: dict[tuple[str, ...], Future[dict[str, Any]]] = {}

    def start(self, run: tuple[str, ...]) -> Future[dict[str, Any]]:
        if run not in self._futures:
            name, *args = run
            paths = [self._paths.get(a, a) for a in args]
            self._futures[run] = self._pool.submit(run_script, name, *paths)
        return self._futures[run]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _hidden(x: np.ndarray, kernel: np.ndarray = KERNEL, bias: np.ndarray = BIAS) -> np.ndarray:
    return np.maximum(x @ kernel + bias, 0)


def _one_sgd_step(handle: Path, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """kernel, bias and moving mean after one full-batch SGD step on MSE + the model's
    regularization loss, with ``training=True``: computed in TF2 on the bare loaded model."""
    obj = tf.saved_model.load(str(handle))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(obj(tf.constant(x), training=True) - y))
        loss += obj.regularization_losses[0]()
    grads = tape.gradient(loss, obj.trainable_variables)
    new = [v.numpy() - LR * g.numpy() for v, g in zip(obj.trainable_variables, grads, strict=True)]
    return [*new, obj.variables[2].numpy()]


def _assert_weights(actual: list[Any], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(np.array(a), e, rtol=1e-5, atol=1e-6)


def _save_vocab_model(path: Path) -> Path:
    """A TF2 SavedModel with a lookup table: words → vectors (unknown words → zeros)."""

    class Vocab(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            keys, ids = tf.constant(["a", "b", "c"]), tf.constant([0, 1, 2], tf.int64)
            init = tf.lookup.KeyValueTensorInitializer(keys, ids)
            self.table = tf.lookup.StaticHashTable(init, default_value=-1)
            self.vectors = tf.Variable([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, words: tf.Tensor) -> tf.Tensor:
            ids = self.table.lookup(words)
            known = tf.cast(ids >= 0, tf.float32)[:, None]
            return tf.gather(self.vectors, tf.maximum(ids, 0)) * known

    module = Vocab()
    root = tf.train.Checkpoint(vocab=module)
    root.__call__ = module.__call__
    root.variables = list(module.variables)
    root.trainable_variables = list(module.trainable_variables)
    tf.saved_model.save(root, str(path))
    return path


@pytest.fixture(scope="module")
def reusable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_reusable_model(tmp_path_factory.mktemp("compat") / "reusable")


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_vocab_model(tmp_path_factory.mktemp("compat") / "vocab")


@pytest.fixture(scope="module")
def created_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("created")


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, reusable: Path, vocab: Path, created_dir: Path
) -> Iterator[Runs]:
    """Starts, in test order, the script runs of every selected test of this module."""
    started = Runs({REUSABLE: reusable, VOCAB: vocab, OUT: created_dir}, workers=2)
    for item in request.session.items:
        run = getattr(getattr(item, "function", None), "script_run", None)
        if run is not None and item.module is request.module:
            started.start(run)
    yield started
    started.close()


@pytest.fixture
def result(request: pytest.FixtureRequest, runs: Runs) -> dict[str, Any]:
    """The RESULT of the script run the test declares with ``@script(...)``."""
    return runs.start(request.function.script_run).result(timeout=2.5 * TIMEOUT)


# -- load / inference: tfhub.load + Session.run ----------------------------------------


@script("load_session", REUSABLE, VOCAB)
def test_global_variables_initializer_restores_the_saved_weights(result: dict[str, Any]) -> None:
    r = result
    x = np.array(r["x"], np.float32)
    assert r["executing_eagerly"] is False
    # Loading creates the variables uninitialized; their initializer is the restore op.
    assert r["before_init"].startswith("FailedPreconditionError")
    assert "Could not find variable" in r["before_init"]
    assert {"kernel:0", "bias:0", "moving_mean:0"} <= set(r["global_variables"])
    # ... and not in TRAINABLE_VARIABLES: optimizers need var_list=model.trainable_variables.
    assert r["trainable_variables"] == []
    np.testing.assert_allclose(r["output"], reference_output(x), rtol=1e-6)
    np.testing.assert_allclose(r["serving"], reference_output(x), rtol=1e-6)
    np.testing.assert_allclose(r["embed"], x @ KERNEL, rtol=1e-6)


@script("load_session", REUSABLE, VOCAB)
def test_tables_initializer_fills_the_models_lookup_tables(result: dict[str, Any]) -> None:
    assert result["table_initializers"] == 1
    assert "Table not initialized" in result["table_before_tables_init"]
    np.testing.assert_allclose(result["table_output"], VOCAB_VECTORS)


@script("load_session", REUSABLE, VOCAB)
def test_monitored_session_runs_both_initializers(result: dict[str, Any]) -> None:
    x = np.array(result["x"], np.float32)
    np.testing.assert_allclose(result["monitored_output"], reference_output(x), rtol=1e-6)
    np.testing.assert_allclose(result["monitored_table_output"], VOCAB_VECTORS)


@script("load_session", REUSABLE, VOCAB)
def test_moving_statistics_update_only_in_a_training_call(result: dict[str, Any]) -> None:
    x = np.array(result["x"], np.float32)
    np.testing.assert_allclose(result["moving_mean_after_inference"], [0.0, 0.0])
    expected = (1 - MOMENTUM) * _hidden(x).mean(axis=0)
    np.testing.assert_allclose(result["moving_mean_after_training_call"], expected, rtol=1e-5)


# -- fine-tuning with a TF1 optimizer and Session.run ------------------------------------


@script("session_finetune", REUSABLE)
def test_session_fine_tuning_with_the_train_op_built_first(
    result: dict[str, Any], reusable: Path
) -> None:
    r = result
    x, y = np.array(r["x"], np.float32), np.array(r["y"], np.float32)
    assert "No variables to optimize" in r["no_var_list"]
    assert r["variable_names"] == ["kernel:0", "bias:0", "moving_mean:0"]
    _assert_weights(r["variables_after_one_step"], _one_sgd_step(reusable, x, y))
    assert r["losses"][-1] < 0.5 * r["loss_before"]


@script("session_finetune", REUSABLE)
def test_session_gradients_built_after_a_run_hit_tfs_op_rewrite_trap(
    result: dict[str, Any],
) -> None:
    """Plain TF: the gradient of a restored function rewrites its call op; a Session that
    already ran that op cannot follow. tfhub's tf_keras layer avoids this (tests below)."""
    error = result["run_first_step_error"]
    assert error.startswith("InvalidArgumentError")
    assert TRAP in error and "StatefulPartitionedCall" in error


# -- fine-tuning with tfhub.KerasLayer in a tf_keras model -----------------------------


def _check_fine_tuning(r: dict[str, Any], handle: Path) -> None:
    x, y = np.array(r["x"], np.float32), np.array(r["y"], np.float32)
    assert r["layer_class"] == "TfKerasLayer"
    assert r["weight_names"] == ["kernel:0", "bias:0", "moving_mean:0"]
    assert r["trainable_weight_names"] == ["kernel:0", "bias:0"]
    np.testing.assert_allclose(r["regularization_losses"], [L2 * np.sum(KERNEL**2)], rtol=1e-6)
    _assert_weights(r["weights_after_one_step"], _one_sgd_step(handle, x, y))
    assert r["losses"][-1] < r["losses"][0]
    assert r["loss_after"] < np.mean((reference_output(x) - y) ** 2)


@script("keras_graph", "fit_first", REUSABLE)
def test_keras_layer_fine_tunes_in_graph_mode(result: dict[str, Any], reusable: Path) -> None:
    _check_fine_tuning(result, reusable)


@script("keras_graph", "predict_first", REUSABLE)
def test_keras_layer_fine_tunes_after_predict_evaluate_and_get_weights(
    result: dict[str, Any], reusable: Path
) -> None:
    r = result
    x, y = np.array(r["x"], np.float32), np.array(r["y"], np.float32)
    np.testing.assert_allclose(r["predict_before"], reference_output(x), rtol=1e-6)
    expected_loss = np.mean((reference_output(x) - y) ** 2) + L2 * np.sum(KERNEL**2)
    assert r["loss_before"] == pytest.approx(expected_loss, rel=1e-5)
    # predict / evaluate run in inference: the moving mean has not moved.
    _assert_weights(r["weights_before"], [KERNEL, BIAS, np.zeros(2, np.float32)])
    _check_fine_tuning(r, reusable)


@script("keras_graph", "frozen_between", REUSABLE)
def test_frozen_keras_layer_between_trainable_layers_after_predict(
    result: dict[str, Any],
) -> None:
    r = result
    x = np.array(r["x"], np.float32)
    np.testing.assert_allclose(r["predict_before"], reference_output(x), rtol=1e-6)
    assert not any(r["regularization_losses"])  # frozen: no regularization loss
    _assert_weights(r["weights_after_one_step"], [KERNEL, BIAS, np.zeros(2, np.float32)])
    assert not np.allclose(r["dense_after"][0], r["dense_before"][0])  # trained through it
    assert r["losses"][-1] < r["losses"][0] < r["loss_before"]


@script("keras_graph", "bare_layer_predict_first", REUSABLE)
def test_a_bare_tf_keras_layer_hits_the_trap_that_keras_layer_avoids(
    result: dict[str, Any],
) -> None:
    r = result
    np.testing.assert_allclose(r["predict_before"], reference_output(np.array(r["x"])), rtol=1e-6)
    assert r["fit_error"].startswith("InvalidArgumentError") and TRAP in r["fit_error"]


@script("keras_graph", "vocab", VOCAB)
def test_keras_layer_initializes_lookup_tables_in_graph_mode(result: dict[str, Any]) -> None:
    r = result
    assert r["layer_class"] == "TfKerasLayer"
    np.testing.assert_allclose(r["predict"], VOCAB_VECTORS)
    np.testing.assert_allclose(r["predict_loaded"], VOCAB_VECTORS)


# -- creation: tf.saved_model.save from compatibility mode --------------------------------


@pytest.fixture
def created(result: dict[str, Any], created_dir: Path) -> tuple[Path, dict[str, Any]]:
    return created_dir, result


@script("create_saved_model", OUT)
def test_saving_in_graph_mode_needs_an_initialized_default_session(
    created: tuple[Path, dict[str, Any]],
) -> None:
    _, r = created
    assert r["without_session"].startswith("RuntimeError")
    assert "without a default session" in r["without_session"]
    assert r["save_counter_uninitialized"].startswith("FailedPreconditionError")
    assert "save_counter" in r["save_counter_uninitialized"]


@script("create_saved_model", OUT)
def test_saved_from_compat_mode_meets_the_conventions(
    created: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = created
    report = tfhub.check_reusable_saved_model(out / "reusable")
    assert report.ok, str(report)
    assert report.call_accepts_training
    assert report.notes == []


@script("create_saved_model", OUT)
def test_saved_from_compat_mode_loads_in_tf2_with_its_outputs(
    created: tuple[Path, dict[str, Any]],
) -> None:
    out, r = created
    x = np.array(r["x"], np.float32)
    model = tfhub.load(out / "reusable")
    np.testing.assert_allclose(model(x).numpy(), r["expected"], rtol=1e-5, atol=1e-6)
    _assert_weights([v.numpy() for v in model.variables], [np.array(v) for v in r["variables"]])
    assert [v.name for v in model.trainable_variables] == ["bias:0", "kernel:0"]
    kernel = model.variables[1].numpy()
    [l2] = model.regularization_losses
    assert float(l2()) == pytest.approx(0.01 * np.sum(kernel**2), rel=1e-5)
    bias, moving_mean = (np.array(v) for v in (r["variables"][0], r["variables"][2]))
    model(x, training=True)
    expected_mean = 0.5 * moving_mean + 0.5 * _hidden(x, kernel, bias).mean(axis=0)
    np.testing.assert_allclose(model.variables[2].numpy(), expected_mean, rtol=1e-5)


@script("create_saved_model", OUT)
def test_a_plain_tf_module_root_fails_the_check(created: tuple[Path, dict[str, Any]]) -> None:
    out, r = created
    report = tfhub.check_reusable_saved_model(out / "plain")
    assert not report.ok
    assert any("`variables`" in p and "tf.Module" in p for p in report.problems)
    assert any("`trainable_variables`" in p for p in report.problems)
    # What the check saw: the loaded root really has no variables lists ...
    loaded = tfhub.load(out / "plain")
    assert not hasattr(loaded, "variables") and not hasattr(loaded, "trainable_variables")
    # ... although it still computes the same outputs.
    x = np.array(r["x"], np.float32)
    np.testing.assert_allclose(loaded(x).numpy(), r["expected"], rtol=1e-5, atol=1e-6)


@script("create_saved_model", OUT)
def test_a_tf_keras_model_saved_from_compat_mode(created: tuple[Path, dict[str, Any]]) -> None:
    out, r = created
    report = tfhub.check_reusable_saved_model(out / "keras")
    assert report.ok, str(report)
    assert report.call_accepts_training
    model = tfhub.load(out / "keras")
    x = np.array(r["x"], np.float32)
    np.testing.assert_allclose(model(x).numpy(), r["keras_expected"], rtol=1e-5, atol=1e-6)
    assert len(model.trainable_variables) == 4 and len(model.variables) == 6
    assert len(model.regularization_losses) == 1
