"""Fine-tuning a ``KerasLayer`` under ``tf.distribute`` matches single-device training:
``MirroredStrategy`` over two logical CPUs, and ``MultiWorkerMirroredStrategy`` with two worker
processes on 127.0.0.1, for Keras 3 and ``tf_keras``.

Logical devices must be configured before TensorFlow initialises its devices, and each worker
needs its own ``TF_CONFIG``, so the distributed runs happen in subprocesses that run this file
as a script (``python test_distribution.py FLAVOUR STRATEGY MODEL``); each prints the trained
variables as JSON on its last line. Every subprocess is bounded by a timeout.

The model used has a frozen moving mean (``momentum=1.0``): a restored ``tf.function`` updates
each replica's copy of a moving statistic from that replica's batch only (like an unsynced
batch norm), so statistics, and everything computed from them, legitimately differ from
single-device training.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
TIMEOUT = 150  # seconds, per subprocess
BATCH, EPOCHS, LR = 16, 4, 0.1


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(BATCH, 3)).astype(np.float32),
        rng.normal(size=(BATCH, 1)).astype(np.float32),
    )


def train(flavour: str, strategy_name: str, model_path: str) -> dict[str, list[Any]]:
    """Fine-tunes ``[KerasLayer(trainable=True), Dense(1)]`` with full-batch SGD under the
    named strategy; returns every variable of the model by name."""
    import tensorflow as tf

    if strategy_name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif strategy_name == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
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
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    values = {f"hub/{v.name}": v.numpy().tolist() for v in layer.resolved_object.variables}
    values.update({f"head/{i}": w.numpy().tolist() for i, w in enumerate(head.weights)})
    values["loss"] = [float(model.evaluate(x, y, batch_size=BATCH, verbose=0))]
    return values


# -- the tests ------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "TF_USE_LEGACY_KERAS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra)
    return env


def _result(stdout: str, stderr: str, returncode: int) -> dict[str, list[Any]]:
    assert returncode == 0, f"worker failed ({returncode}):\n{stderr[-4000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


def _assert_match(got: dict[str, list[Any]], expected: dict[str, list[Any]]) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def _single(flavour: str, model: Path) -> dict[str, list[Any]]:
    single = train(flavour, "single", str(model))
    from support.models import KERNEL

    assert not np.allclose(single["hub/kernel:0"], KERNEL)  # training moved the weights
    return single


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(
    flavour: Any, models: Any
) -> None:
    expected = _single(flavour.name, models.frozen_stats)
    result = subprocess.run(
        [sys.executable, str(HERE), flavour.name, "mirrored", str(models.frozen_stats)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    _assert_match(_result(result.stdout, result.stderr, result.returncode), expected)


def test_multi_worker_mirrored_strategy_with_two_workers_matches_one_device(
    flavour: Any, models: Any
) -> None:
    expected = _single(flavour.name, models.frozen_stats)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(
            subprocess.Popen(
                [sys.executable, str(HERE), flavour.name, "multiworker", str(models.frozen_stats)],
                env=_env(TF_CONFIG=json.dumps(tf_config)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
            outputs.append(_result(stdout, stderr, proc.returncode))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for output in outputs:  # both workers hold the same, single-device, result
        _assert_match(output, expected)


def _main(argv: list[str]) -> None:
    flavour, strategy_name, model_path = argv
    if strategy_name == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    print(json.dumps(train(flavour, strategy_name, model_path)))


if __name__ == "__main__":
    _main(sys.argv[1:])
