"""``KerasLayer`` overhead, fine-tuning speed and ``tfhub.load`` cost, side by side (issue #3).

    .venv/bin/python bench/bench_keras_layer.py [--quick] [--rounds N]

One process. A reusable TF2 SavedModel (an MLP 128-256-256-128 with ``training`` and
``regularization_losses``) is built once under ``.bench-data/models/keras_mlp_*``. Then:

1. **forward** (eager, batch 32): calling the loaded object directly vs through
   ``tfhub.KerasLayer`` (Keras 3), ``tfhub.tf_keras.KerasLayer`` and the original
   ``tensorflow_hub.KerasLayer`` (tf_keras); and the same inside ``tf.function``.
   Goal: ours adds <= 10 % eager (the original adds 40-50 %), within noise in tf.function.
2. **fit step** (batch 32): ``train_on_batch`` of ``[KerasLayer(trainable=True), Dense(1)]`` vs
   the same network as plain Keras ``Dense`` layers, in Keras 3; and in tf_keras ours vs the
   original's layer. Goal: <= 1.10x plain, and not slower than the original. A trainable
   KerasLayer adds the SavedModel's ``regularization_losses`` (here 1e-5 * sum of the squared
   kernels) to the loss, so "the same network" is the plain one with
   ``kernel_regularizer=L2(1e-5)`` (``*_plain_l2``, the goal's baseline); ``*_plain``, without
   it, shows what the regularization itself costs. Every model is compiled with the default
   ``jit_compile``; what Keras picks is printed (Keras 3 turns "auto" into False on machines
   without an accelerator, for every model alike).
3. **load**: ``tfhub.load(path)`` vs ``tf.saved_model.load(path)`` of the same local model.
   Goal: <= 1.05x.

Other test suites on the machine skew wall-clock timings, so: before each round the benchmark
waits (up to 90 s) for the cores to be idle (``--no-wait-quiet`` to skip) and prints the
busiest it saw; within a round the contenders take turns in short chunks of calls (rotating
order), so that load arriving mid-round hits them alike; the garbage collector is off while
timing (as in ``timeit``). Medians over rounds are reported; compare ratios from one run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    DATA,
    code_line,
    cores_line,
    import_reference,
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
L2_FACTOR = 1e-5  # the saved model's regularization_losses: L2_FACTOR * sum(kernel ** 2)


def build_model(path: Path) -> Path:
    """A reusable MLP SavedModel (kept and reused once built)."""
    import tensorflow as tf

    if (path / "saved_model.pb").exists():
        return path
    rng = tf.random.Generator.from_seed(0)
    kernels = [
        tf.Variable(rng.normal([a, b]) * (2.0 / a) ** 0.5, name=f"kernel_{i}")
        for i, (a, b) in enumerate(itertools.pairwise(SIZES))
    ]
    biases = [tf.Variable(tf.zeros([b]), name=f"bias_{i}") for i, b in enumerate(SIZES[1:])]

    @tf.function
    def forward(x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return mlp(x, kernels, biases)

    save_reusable_mlp(
        path,
        forward,
        kernels=kernels,
        variables=kernels + biases,
        trainable_variables=kernels + biases,
        l2_factor=L2_FACTOR,
        vars=kernels + biases,
    )
    return path


WAIT_QUIET = True
BUSY_SEEN: list[float] = []


def race(
    contenders: dict[str, Callable[[], Any]], rounds: int, calls: int, chunk: int = 1
) -> dict[str, float]:
    """Median over ``rounds`` of each contender's seconds per call.

    In a round every contender makes ``calls`` calls (after 5 warm-up calls), in chunks of
    ``chunk`` consecutive calls that take turns (the order rotates from chunk to chunk), so
    that a burst of load from other processes falls on all contenders alike rather than on
    whichever one was running. The garbage collector is off while timing, as in ``timeit``:
    a full collection (tens of ms with TensorFlow loaded) would otherwise land on one
    contender's calls; it runs between rounds.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        if WAIT_QUIET:
            BUSY_SEEN.append(wait_quiet())
        for fn in contenders.values():
            for _ in range(5):
                fn()
        spent = dict.fromkeys(names, 0.0)
        gc.collect()
        gc.disable()
        try:
            for c in range(max(1, calls // chunk)):
                k = (r + c) % len(names)
                for name in names[k:] + names[:k]:
                    fn = contenders[name]
                    start = time.perf_counter()
                    for _ in range(chunk):
                        fn()
                    spent[name] += time.perf_counter() - start
        finally:
            gc.enable()
        for name in names:
            times[name].append(spent[name] / (max(1, calls // chunk) * chunk))
    return {name: median(values) for name, values in times.items()}


def forward_bench(path: Path, hub: Any, rounds: int, calls: int) -> dict[str, float]:
    import numpy as np
    import tensorflow as tf

    import tfhub
    import tfhub.keras3
    import tfhub.tf_keras

    x = tf.constant(np.random.default_rng(0).normal(size=(BATCH, SIZES[0])).astype("float32"))
    direct = tfhub.load(str(path))
    ours3 = tfhub.keras3.KerasLayer(str(path))
    ours2 = tfhub.tf_keras.KerasLayer(str(path))
    ref = hub.KerasLayer(str(path))
    eager = {
        "direct": lambda: direct(x),
        "tfhub_keras3": lambda: ours3(x),
        "tfhub_tf_keras": lambda: ours2(x),
        "tensorflow_hub": lambda: ref(x),
    }
    graph = {name: tf.function(fn) for name, fn in eager.items()}
    results = {f"eager_{k}": v for k, v in race(eager, rounds, calls, chunk=10).items()}
    results.update({f"graph_{k}": v for k, v in race(graph, rounds, calls, chunk=10).items()})
    return results


def _mlp_head(keras: Any, layers: list[Any]) -> Any:
    model = keras.Sequential([keras.Input([SIZES[0]]), *layers, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    return model


def fit_bench(path: Path, hub: Any, rounds: int, calls: int) -> dict[str, float]:
    import keras
    import numpy as np
    import tf_keras

    import tfhub.keras3
    import tfhub.tf_keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, SIZES[0])).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")

    def plain(k: Any, l2: float | None = None) -> list[Any]:
        # With l2: the SavedModel's regularization_losses (L2_FACTOR * sum of squared kernels).
        reg = (lambda: k.regularizers.L2(l2)) if l2 else (lambda: None)
        return [
            k.layers.Dense(n, activation="relu", kernel_regularizer=reg()) for n in SIZES[1:-1]
        ] + [k.layers.Dense(SIZES[-1], kernel_regularizer=reg())]

    models = {
        "keras3_plain": _mlp_head(keras, plain(keras)),
        "keras3_plain_l2": _mlp_head(keras, plain(keras, L2_FACTOR)),
        "keras3_tfhub": _mlp_head(keras, [tfhub.keras3.KerasLayer(str(path), trainable=True)]),
        "tf_keras_plain": _mlp_head(tf_keras, plain(tf_keras)),
        "tf_keras_plain_l2": _mlp_head(tf_keras, plain(tf_keras, L2_FACTOR)),
        "tf_keras_tfhub": _mlp_head(
            tf_keras, [tfhub.tf_keras.KerasLayer(str(path), trainable=True)]
        ),
        "tf_keras_tensorflow_hub": _mlp_head(tf_keras, [hub.KerasLayer(str(path), trainable=True)]),
    }
    print("jit_compile as compiled (default; tf_keras None = off): " + ", ".join(
        f"{name} {_jit_compile(m)}" for name, m in models.items()
    ))  # fmt: skip
    steps = {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()}
    return race(steps, rounds, calls, chunk=5)


def _jit_compile(model: Any) -> Any:
    """What the model's ``jit_compile`` resolved to (tf_keras keeps it in ``_jit_compile``)."""
    try:
        return model.jit_compile
    except AttributeError:
        return getattr(model, "_jit_compile", None)


def load_bench(path: Path, rounds: int, calls: int) -> dict[str, float]:
    import tensorflow as tf

    import tfhub

    return race(
        {
            "tfhub_load": lambda: tfhub.load(str(path)),
            "tf_load": lambda: tf.saved_model.load(str(path)),
        },
        rounds,
        calls,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--no-wait-quiet",
        dest="wait_quiet",
        action="store_false",
        help="do not wait (up to 90 s) for other processes to leave the cores idle before rounds",
    )
    args = parser.parse_args()
    global WAIT_QUIET
    WAIT_QUIET = args.wait_quiet
    quiet()
    hub = import_reference()
    rounds = args.rounds or (3 if args.quick else 7)
    scale = 1 if args.quick else 4
    print(cores_line())
    print(code_line())
    path = build_model(DATA / "models" / f"keras_mlp_{'_'.join(map(str, SIZES))}")
    fwd = forward_bench(path, hub, rounds, 50 * scale)
    fit = fit_bench(path, hub, rounds, 10 * scale)
    load = load_bench(path, rounds, 2 * scale)
    results = {"forward": fwd, "fit": fit, "load": load}
    save_results("keras_layer", results)
    us = {k: v * 1e6 for k, v in fwd.items()}
    for mode in ("eager", "graph"):
        base = us[f"{mode}_direct"]
        print(
            f"forward {mode}: direct {base:.0f} µs; "
            + ", ".join(
                f"{name} {us[f'{mode}_{name}']:.0f} µs ({us[f'{mode}_{name}'] / base - 1:+.0%})"
                for name in ("tfhub_keras3", "tfhub_tf_keras", "tensorflow_hub")
            )
        )
    ms = {k: v * 1e3 for k, v in fit.items()}
    print("fit step: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))
    print(
        f"fit step keras3 tfhub: {ms['keras3_tfhub'] / ms['keras3_plain_l2']:.2f}x plain with "
        f"the same L2 ({ms['keras3_tfhub'] / ms['keras3_plain']:.2f}x plain without it; the "
        f"regularization alone: {ms['keras3_plain_l2'] / ms['keras3_plain']:.2f}x)"
    )
    print(
        f"load: tfhub.load {load['tfhub_load'] * 1e3:.1f} ms, "
        f"tf.saved_model.load {load['tf_load'] * 1e3:.1f} ms"
    )
    if BUSY_SEEN:
        print(
            f"other load: cores up to {max(BUSY_SEEN):.0%} busy when rounds started "
            f"(median {median(BUSY_SEEN):.0%}; waited up to 90 s for < 10 %)"
        )
    e = us["eager_tfhub_keras3"] / us["eager_direct"] - 1
    summary(
        f"keras_layer: eager overhead tfhub {e:+.0%} (tensorflow_hub "
        f"{us['eager_tensorflow_hub'] / us['eager_direct'] - 1:+.0%}; goal <= +10%), "
        f"tf.function {us['graph_tfhub_keras3'] / us['graph_direct'] - 1:+.0%}; "
        f"fit keras3 {ms['keras3_tfhub'] / ms['keras3_plain_l2']:.2f}x plain (same L2; "
        f"goal <= 1.10), "
        f"tf_keras {ms['tf_keras_tfhub'] / ms['tf_keras_tensorflow_hub']:.2f}x tensorflow_hub; "
        f"load {load['tfhub_load'] / load['tf_load']:.2f}x tf.saved_model.load (goal <= 1.05)"
    )


if __name__ == "__main__":
    main()
