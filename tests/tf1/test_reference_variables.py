"""Fine-tuning in TF2 a TF1 Hub module whose variables are TF1 reference variables
(``VariableV2``, TF 1.x's default): the same fixture module with ``use_resource=False``
trains, updates its moving mean and gives the same results as the resource-variable one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfhub
import tfhub.tf1 as hub
from tf1 import hub_fixture
from tf1.hub_fixture import MOMENTUM, WORDS, X, dense_reference, sparse_words, words_reference
from tfhub.errors import ModelFormatError
from tfhub.tf1.reusable import load_reusable

v1 = tf.compat.v1


def _ops(module_dir: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((module_dir / "saved_model.pb").read_bytes())
    return {node.op for mg in saved.meta_graphs for node in mg.graph_def.node}


@pytest.fixture(scope="module")
def ref_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fixture module, its variables created as reference variables."""
    original = hub_fixture.module_fn

    def module_fn(training: bool, vocab: str) -> None:
        with v1.variable_scope(v1.get_variable_scope(), use_resource=False):
            original(training, vocab)

    root = tmp_path_factory.mktemp("ref")
    hub_fixture.module_fn = module_fn
    try:
        path = hub_fixture.export_fixture(root / "module", root)
    finally:
        hub_fixture.module_fn = original
    ops = _ops(path)
    assert "VariableV2" in ops and "VarHandleOp" not in ops, ops
    yield path


def _first(outputs: Any) -> Any:
    return outputs["default"] if isinstance(outputs, dict) else outputs


def test_inference_and_signatures_match(ref_module: Path) -> None:
    obj = load_reusable(ref_module)
    np.testing.assert_allclose(_first(obj(X)).numpy(), dense_reference(X), rtol=1e-6)
    words = obj.signatures["words"](words=tf.SparseTensor(*sparse_words(WORDS)))
    np.testing.assert_allclose(words["default"].numpy(), words_reference(WORDS), rtol=1e-6)


def test_training_updates_the_moving_mean_and_gradients_match(
    ref_module: Path, hub_module: Path
) -> None:
    grads = {}
    for label, path in (("ref", ref_module), ("resource", hub_module)):
        obj = load_reusable(path)
        moving_mean = obj.variable_map["bn/moving_mean"]
        with tf.GradientTape() as tape:
            hidden = obj(X, training=True, as_dict=True)["hidden"]
            loss = tf.reduce_sum(hidden**2) + tf.add_n([f() for f in obj.regularization_losses])
        names = [v.name for v in obj.trainable_variables]
        grads[label] = dict(zip(names, tape.gradient(loss, obj.trainable_variables), strict=True))
        batch_mean = dense_reference(X).mean(axis=0)
        np.testing.assert_allclose(moving_mean.numpy(), (1 - MOMENTUM) * batch_mean, rtol=1e-5)
        obj(X)  # inference never updates
        np.testing.assert_allclose(moving_mean.numpy(), (1 - MOMENTUM) * batch_mean, rtol=1e-5)
    assert grads["ref"].keys() == grads["resource"].keys()
    for name, grad in grads["ref"].items():
        assert grad is not None, name
        np.testing.assert_allclose(grad.numpy(), grads["resource"][name].numpy(), rtol=1e-5)


def test_keras_fit_lowers_the_loss(ref_module: Path) -> None:
    model = keras.Sequential(
        [keras.Input([3]), tfhub.KerasLayer(str(ref_module), trainable=True), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(X, np.ones([len(X), 1], np.float32), epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_write_with_no_resource_form_is_refused(tmp_path: Path) -> None:
    def module_fn() -> None:
        x = v1.placeholder(tf.float32, [2])
        with v1.variable_scope("s", use_resource=False):
            table = v1.get_variable("table", initializer=np.zeros(4, np.float32))
        update = v1.scatter_update(table, [0, 1], x)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update.op)
        hub.add_signature(inputs=x, outputs=tf.identity(update))

    path = hub_fixture.export_module(hub.create_module_spec(module_fn), tmp_path / "m")
    with pytest.raises(ModelFormatError, match="ScatterUpdate"):
        load_reusable(path)
