"""Fine-tuning a ``KerasLayer`` under ``tf.distribute`` matches single-device training:
``MirroredStrategy`` over two logical CPUs, and ``MultiWorkerMirroredStrategy`` with two worker
processes on 127.0.0.1, for Keras 3 and ``tf_keras``.

Logical devices must be configured before TensorFlow initialises its devices, and each worker
needs its own ``TF_CONFIG``, so the distributed runs happen in subprocesses that run this file
as a script (``python test_distribution.py STRATEGY MODEL FLAVOUR...``), training both
flavours in one process; each prints the trained variables as JSON on its last line. Every
subprocess is bounded by a timeout.

The model used has a frozen moving mean (``momentum=1.0``): a restored ``tf.function`` updates
each replica's copy of a moving statistic from that replica's batch only (like an unsynced
batch norm), so statistics, and everything computed from them, legitimately differ from
single-device training.

Keras 3's ``Model.fit`` does not work under ``MultiWorkerMirroredStrategy`` at all (with plain
Keras layers too: its symbolic build calls ``strategy.reduce`` on a tuple of ``PerReplica``
batches and fails with "Attempt to convert a value (PerReplica:{...}) with an unsupported type
... to a Tensor"; keras-team/keras#20585). The Keras 3 multi-worker run therefore uses the
custom training loop of the TensorFlow distributed-training guide (``strategy.run``, the
model's ``losses``, the Keras optimizer); ``tf_keras`` uses ``fit``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
TIMEOUT = 180  # seconds, for the subprocesses
BATCH, EPOCHS, LR = 16, 4, 0.1
FLAVOURS = ("keras3", "tf_keras")


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(BATCH, 3)).astype(np.float32),
        rng.normal(size=(BATCH, 1)).astype(np.float32),
    )


def make_strategy(strategy_name: str) -> Any:
    import tensorflow as tf

    if strategy_name == "mirrored":
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    if strategy_name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def train(flavour: str, strategy_name: str, strategy: Any, model_path: str) -> dict[str, Any]:
    """Fine-tunes ``[KerasLayer(trainable=True), Dense(1)]`` with full-batch SGD under
    ``strategy``; returns every variable of the model by name, and its predictions."""
    import tensorflow as tf

    if flavour == "keras3":
        import keras as k

        from tfhub.tf.keras3_layer import Keras3Layer as Layer
    else:
        import tf_keras as k  # type: ignore[no-redef]

        from tfhub.tf.tf_keras_layer import TfKerasLayer as Layer  # type: ignore[assignment]
    x, y = _data()
    with strategy.scope():
        layer = Layer(model_path, trainable=True)
        head = k.layers.Dense(1, kernel_initializer="ones", name="head")
        model = k.Sequential([k.Input([3]), layer, head])
        model.compile(optimizer=k.optimizers.SGD(LR), loss="mse")
    if strategy_name != "single":
        assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
        assert isinstance(layer.resolved_object.variables[0], tf.distribute.DistributedValues)
    if flavour == "keras3" and strategy_name == "multiworker":
        _custom_training_loop(strategy, model, x, y)
    else:
        model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    values = {f"hub/{v.name}": v.numpy().tolist() for v in layer.resolved_object.variables}
    values.update({f"head/{i}": w.numpy().tolist() for i, w in enumerate(head.weights)})
    values["prediction"] = np.asarray(model(x, training=False)).tolist()
    return values


def _custom_training_loop(strategy: Any, model: Any, x: np.ndarray, y: np.ndarray) -> None:
    """What ``fit`` does (full batch, MSE + ``model.losses``, SGD), as ``strategy.run`` steps."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    distributed = strategy.experimental_distribute_dataset(dataset)
    optimizer = model.optimizer

    def replica_step(xb: Any, yb: Any) -> None:
        with tf.GradientTape() as tape:
            per_example = tf.reduce_mean(tf.square(model(xb, training=True) - yb), axis=-1)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=BATCH)
            loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    step = tf.function(lambda batch: strategy.run(replica_step, args=batch))
    for _ in range(EPOCHS):
        for batch in distributed:
            step(batch)


# -- the tests ------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "TF_USE_LEGACY_KERAS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra)
    return env


def _worker_command(strategy_name: str, model: Path) -> list[str]:
    return [sys.executable, str(HERE), strategy_name, str(model), *FLAVOURS]


def _result(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    assert returncode == 0, f"worker failed ({returncode}):\n{stderr[-4000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="module")
def runs(models: Any) -> dict[str, Any]:
    """Starts, all at once, the ``MirroredStrategy`` process (two logical CPUs) and the two
    ``MultiWorkerMirroredStrategy`` workers (a cluster on 127.0.0.1), each training both
    flavours; returns ``{"mirrored": result, "multiworker": [result of each worker]}``."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    commands = [("mirrored", _env())]
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        commands.append(("multiworker", _env(TF_CONFIG=json.dumps(tf_config))))
    procs = [
        subprocess.Popen(
            _worker_command(name, models.frozen_stats),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in commands
    ]
    outputs = []
    deadline = time.monotonic() + TIMEOUT  # for all of them: they run side by side
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append(_result(stdout, stderr, proc.returncode))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return {"mirrored": outputs[0], "multiworker": outputs[1:]}


_SINGLE_DEVICE: dict[str, dict[str, Any]] = {}  # the reference runs, once per flavour


def _assert_matches_one_device(flavour: str, got: dict[str, Any], models: Any) -> None:
    assert "error" not in got, got.get("error")
    if flavour not in _SINGLE_DEVICE:
        _SINGLE_DEVICE[flavour] = train(
            flavour, "single", make_strategy("single"), str(models.frozen_stats)
        )
    expected = _SINGLE_DEVICE[flavour]
    from support.models import KERNEL

    assert not np.allclose(expected["hub/kernel:0"], KERNEL)  # training moved the weights
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(
    flavour: Any, models: Any, runs: dict[str, Any]
) -> None:
    _assert_matches_one_device(flavour.name, runs["mirrored"][flavour.name], models)


def test_multi_worker_mirrored_strategy_with_two_workers_matches_one_device(
    flavour: Any, models: Any, runs: dict[str, Any]
) -> None:
    for output in runs["multiworker"]:  # both workers hold the single-device result
        _assert_matches_one_device(flavour.name, output[flavour.name], models)


def _main(argv: list[str]) -> None:
    strategy_name, model_path, *flavours = argv
    if strategy_name == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    strategy = make_strategy(strategy_name)
    results: dict[str, Any] = {}
    for flavour in flavours:
        try:
            results[flavour] = train(flavour, strategy_name, strategy, model_path)
        except Exception:  # reported by the test of that flavour
            results[flavour] = {"error": traceback.format_exc()}
    print(json.dumps(results))


if __name__ == "__main__":
    _main(sys.argv[1:])
