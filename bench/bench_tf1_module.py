"""TF1 Hub modules: ``Module`` instantiation + first call, and TF2 fine-tuning speed (issue #4).

    .venv/bin/python bench/bench_tf1_module.py [--quick] [--rounds N]

The model: an MLP 128-256-256-128 with L2 regularizers and a batch-norm style output (the
batch mean is subtracted and a moving mean updated in training, the moving mean subtracted in
inference), built twice from the same weights, once as a **TF1 Hub module** (``tfhub``'s
``create_module_spec``; graph variants ``{}`` and ``{"train"}``, the update in UPDATE_OPS) and
once as a **reusable TF2 SavedModel** (``__call__(x, training)``, ``variables``,
``trainable_variables``, ``regularization_losses``). Both are kept under
``.bench-data/models/``.

1. **Module instantiation + first call** (TF1 compatibility mode), ``tfhub.Module`` against the
   original ``tensorflow_hub`` 0.15.0, the last release with ``hub.Module``. Timed: in a new
   ``tf.Graph``, ``Module(path)``, calling it, a ``Session``, running the initializers (the
   variables come from the module's checkpoint) and the first ``session.run`` of the output.
   Each contender runs in its own fresh process (``disable_v2_behavior`` is process-wide);
   the first instantiation in a process is reported apart (it includes one-off costs such as
   TensorFlow's lazy imports); the median of the later ones is the result. Processes of the two
   contenders alternate. Goal: not slower than the original (ratio <= 1).

   0.15.0 is not a dependency: its wheel is fetched once from PyPI's simple index (checked
   against the sha256 pinned below) into ``.bench-data/reference-0.15/``; on TensorFlow 2.21 it
   imports once the removed ``tf.compat.v1.estimator`` module is stood in for.
2. **TF2 fine-tuning step** (eager TF2, Keras 3), the TF1 module against the TF2 SavedModel:
   ``train_on_batch`` of ``[tfhub.KerasLayer(h, trainable=True), Dense(1)]``, and a
   ``tf.function`` GradientTape step over ``tfhub.load(h, trainable=True)``. Same weights, same
   math, same losses. Goal: TF1 module <= 1.2x the TF2 SavedModel.

Rounds wait for idle cores (up to 90 s; ``--no-wait-quiet`` to skip) and contenders take turns
in short chunks, as in ``bench_keras_layer.py``. Compare ratios from one run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_keras_layer
from _harness import (
    DATA,
    PYTHON,
    child_env,
    code_line,
    cores_line,
    median,
    mlp,
    quiet,
    save_results,
    save_reusable_mlp,
    summary,
    wait_quiet,
)

SIZES = (128, 256, 256, 128)
BATCH = 32
L2_FACTOR = 1e-5
MOMENTUM = 0.9
ORIGINAL_WHEEL = "tensorflow_hub-0.15.0-py2.py3-none-any.whl"
ORIGINAL_SHA256 = "8af12cb2d1fc0d1a9509a620e7589daf173714e99f08aaf090a4748ff20b45c8"
SIMPLE_INDEX = "https://pypi.org/simple/tensorflow-hub/"
ORIGINAL_DIR = DATA / "reference-0.15"


# -- the two models ----------------------------------------------------------------------------


def _weights() -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for a, b in itertools.pairwise(SIZES):
        out.append((rng.normal(size=(a, b)) * (2.0 / a) ** 0.5).astype("float32"))
        out.append(np.zeros(b, "float32"))
    return out


def _module_fn(training: bool) -> None:
    import tensorflow as tf

    import tfhub

    v1 = tf.compat.v1
    weights = _weights()
    x = v1.placeholder(tf.float32, [None, SIZES[0]], name="x")
    h = x
    for i in range(len(SIZES) - 1):
        kernel = v1.get_variable(
            f"kernel_{i}",
            initializer=weights[2 * i],
            regularizer=lambda k: L2_FACTOR * tf.reduce_sum(tf.square(k)),
        )
        bias = v1.get_variable(f"bias_{i}", initializer=weights[2 * i + 1])
        h = tf.matmul(h, kernel) + bias
        if i < len(SIZES) - 2:
            h = tf.nn.relu(h)
    moving = v1.get_variable("moving_mean", initializer=tf.zeros([SIZES[-1]]), trainable=False)
    if training:
        mean = tf.reduce_mean(h, axis=0)
        update = moving.assign(MOMENTUM * moving + (1 - MOMENTUM) * mean)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update.op)
        out = h - mean
    else:
        out = h - moving
    tfhub.add_signature(inputs={"x": x}, outputs={"default": out})


def build_tf1_module(path: Path) -> Path:
    """The MLP as a TF1 Hub module (created from eager TF2 with tfhub), kept once built."""
    import tensorflow as tf

    import tfhub

    if (path / "tfhub_module.pb").exists():
        return path
    spec = tfhub.create_module_spec(
        _module_fn,
        tags_and_args=[({"train"}, {"training": True}), (set(), {"training": False})],
    )
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tf.Graph().as_default():
        module = tfhub.Module(spec)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            module.export(str(tmp), session)
    tmp.rename(path)
    return path


def build_tf2_saved_model(path: Path) -> Path:
    """The same MLP (same weights, same math) as a reusable TF2 SavedModel."""
    import tensorflow as tf

    if (path / "saved_model.pb").exists():
        return path
    weights = [tf.Variable(w, name=f"w{i}") for i, w in enumerate(_weights())]
    kernels, biases = weights[0::2], weights[1::2]
    moving = tf.Variable(tf.zeros([SIZES[-1]]), trainable=False, name="moving_mean")

    @tf.function
    def forward(x: tf.Tensor, training: bool = False) -> tf.Tensor:
        h = mlp(x, kernels, biases)
        if training:
            mean = tf.reduce_mean(h, axis=0)
            moving.assign(MOMENTUM * moving + (1 - MOMENTUM) * mean)
            return h - mean
        return h - moving

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_reusable_mlp(
        tmp,
        forward,
        kernels=kernels,
        variables=[*weights, moving],
        trainable_variables=list(weights),
        l2_factor=L2_FACTOR,
    )
    tmp.rename(path)
    return path


# -- the original 0.15.0 -----------------------------------------------------------------------


def fetch_original() -> Path:
    """Unpacks the 0.15.0 wheel (fetched once, sha256-checked) and returns its directory."""
    package = ORIGINAL_DIR / "pkg"
    if (package / "tensorflow_hub" / "module.py").exists():
        return package
    import httpx

    index = httpx.get(
        SIMPLE_INDEX,
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        follow_redirects=True,
        timeout=60,
    )
    index.raise_for_status()
    [url] = [f["url"] for f in index.json()["files"] if f["filename"] == ORIGINAL_WHEEL]
    wheel = httpx.get(url, follow_redirects=True, timeout=120).content
    digest = hashlib.sha256(wheel).hexdigest()
    if digest != ORIGINAL_SHA256:
        raise SystemExit(f"{ORIGINAL_WHEEL}: sha256 {digest}, expected {ORIGINAL_SHA256}")
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        archive.extractall(tmp)
    ORIGINAL_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(package, ignore_errors=True)
    tmp.rename(package)
    return package


def _import_original(package: Path) -> Any:
    """The original 0.15.0, importable on TF 2.21 thanks to an ``estimator`` stand-in."""
    import types

    stand_in = types.ModuleType("tensorflow.compat.v1.estimator")
    stand_in.Exporter = object  # type: ignore[attr-defined]
    stand_in.ModeKeys = types.SimpleNamespace(PREDICT="infer")  # type: ignore[attr-defined]
    sys.modules["tensorflow.compat.v1.estimator"] = stand_in
    sys.path.insert(0, str(package))
    import tensorflow_hub

    assert tensorflow_hub.__version__ == "0.15.0", tensorflow_hub.__version__
    return tensorflow_hub


# -- 1. instantiation + first call (one process per contender) ---------------------------------


def instantiate_worker(contender: str, module: str, reps: int, original: str) -> None:
    """Prints ``{"first": s, "later": [s, ...]}`` for ``reps`` + 1 instantiations."""
    import time

    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    if contender == "original":
        hub = _import_original(Path(original))
    else:
        import tfhub as hub
    module_class = hub.Module  # tfhub imports its TF1 API on first use: not timed (nor is theirs)
    x = np.random.default_rng(0).normal(size=(BATCH, SIZES[0])).astype("float32")
    times = []
    for _ in range(reps + 1):
        with tf.Graph().as_default():
            start = time.perf_counter()
            m = module_class(module)
            out = m(tf.constant(x))
            with tf.compat.v1.Session() as session:
                session.run(
                    [
                        tf.compat.v1.global_variables_initializer(),
                        tf.compat.v1.tables_initializer(),
                    ]
                )
                session.run(out)
            times.append(time.perf_counter() - start)
    print(json.dumps({"first": times[0], "later": times[1:]}))


def instantiate_bench(module: Path, original: Path, rounds: int, reps: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[float]]] = {
        c: {"first": [], "later": []} for c in ("tfhub", "original")
    }
    for r in range(rounds):
        if bench_keras_layer.WAIT_QUIET:
            bench_keras_layer.BUSY_SEEN.append(wait_quiet())
        order = ["tfhub", "original"] if r % 2 == 0 else ["original", "tfhub"]
        for contender in order:
            result = subprocess.run(
                [PYTHON, __file__, "--instantiate-worker", contender, str(module), str(reps),
                 str(original)],
                capture_output=True, text=True, env=child_env(), timeout=600, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise SystemExit(f"{contender} worker failed:\n{result.stderr[-3000:]}")
            found = json.loads(result.stdout.strip().splitlines()[-1])
            runs[contender]["first"].append(found["first"])
            runs[contender]["later"].append(median(found["later"]))
    return {c: {"first": median(v["first"]), "later": median(v["later"])} for c, v in runs.items()}


# -- 2. TF2 fine-tuning step -------------------------------------------------------------------


def finetune_bench(tf1: Path, tf2: Path, rounds: int, calls: int) -> dict[str, float]:
    import keras
    import numpy as np
    import tensorflow as tf

    import tfhub
    import tfhub.keras3

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, SIZES[0])).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")

    def keras_model(handle: Path) -> Any:
        model = keras.Sequential(
            [
                keras.Input([SIZES[0]]),
                tfhub.keras3.KerasLayer(str(handle), trainable=True),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
        return model

    def tape_step(handle: Path) -> Any:
        obj = tfhub.load(str(handle), trainable=True)
        head = tf.Variable(rng.normal(size=(SIZES[-1], 1)).astype("float32"))
        params = [*obj.trainable_variables, head]
        xt, yt = tf.constant(x), tf.constant(y)

        @tf.function
        def step() -> tf.Tensor:
            with tf.GradientTape() as tape:
                pred = tf.matmul(obj(xt, training=True), head)
                loss = tf.reduce_mean(tf.square(pred - yt))
                loss += tf.add_n([f() for f in obj.regularization_losses])
            for v, g in zip(params, tape.gradient(loss, params), strict=True):
                v.assign_sub(1e-3 * g)
            return loss

        return step

    models = {"keras3_tf1_module": keras_model(tf1), "keras3_tf2_saved_model": keras_model(tf2)}
    steps: dict[str, Any] = {
        name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()
    }
    steps["tape_tf1_module"] = tape_step(tf1)
    steps["tape_tf2_saved_model"] = tape_step(tf2)
    return bench_keras_layer.race(steps, rounds, calls, chunk=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false")
    parser.add_argument("--instantiate-worker", nargs=4, metavar=("WHO", "MODULE", "N", "ORIG"))
    args = parser.parse_args()
    quiet()
    if args.instantiate_worker:
        who, module, reps, original = args.instantiate_worker
        instantiate_worker(who, module, int(reps), original)
        return
    bench_keras_layer.WAIT_QUIET = args.wait_quiet
    rounds = args.rounds or (3 if args.quick else 7)
    print(cores_line())
    print(code_line())
    original = fetch_original()
    name = "_".join(map(str, SIZES))
    tf1 = build_tf1_module(DATA / "models" / f"tf1_mlp_bn_{name}")
    tf2 = build_tf2_saved_model(DATA / "models" / f"tf2_mlp_bn_{name}")
    inst = instantiate_bench(tf1, original, rounds, reps=3 if args.quick else 5)
    fit = finetune_bench(tf1, tf2, rounds, 10 if args.quick else 40)
    save_results("tf1_module", {"instantiate": inst, "finetune": fit})
    ms = {k: v * 1e3 for k, v in fit.items()}
    for who, t in inst.items():
        print(
            f"Module instantiation + first call, {who}: first in process "
            f"{t['first'] * 1e3:.0f} ms, later {t['later'] * 1e3:.1f} ms"
        )
    print("fine-tuning step: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))
    if bench_keras_layer.BUSY_SEEN:
        seen = bench_keras_layer.BUSY_SEEN
        print(f"other load: cores up to {max(seen):.0%} busy when rounds started")
    inst_ratio = inst["tfhub"]["later"] / inst["original"]["later"]
    first_ratio = inst["tfhub"]["first"] / inst["original"]["first"]
    keras_ratio = ms["keras3_tf1_module"] / ms["keras3_tf2_saved_model"]
    tape_ratio = ms["tape_tf1_module"] / ms["tape_tf2_saved_model"]
    summary(
        f"tf1_module: Module instantiation + first call tfhub {inst['tfhub']['later'] * 1e3:.1f} "
        f"ms vs tensorflow_hub 0.15 {inst['original']['later'] * 1e3:.1f} ms, ratio "
        f"{inst_ratio:.2f} (first in process {first_ratio:.2f}; goal <= 1); TF2 fine-tuning "
        f"step TF1 module / TF2 SavedModel: Keras 3 fit {keras_ratio:.2f}x, GradientTape "
        f"{tape_ratio:.2f}x (goal <= 1.2)"
    )


if __name__ == "__main__":
    main()
