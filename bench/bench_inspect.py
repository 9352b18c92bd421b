"""``tfhub inspect`` vs TensorFlow's ``saved_model_cli show --all`` on the same models.

    .venv/bin/python bench/bench_inspect.py [--quick] [--runs N] [--tf-runs N]

Three models, built once with TensorFlow (in a subprocess) and kept under
``.bench-data/models/``: a reusable TF2 SavedModel and a TF1 Hub module (the MLP of
``bench_tf1_module.py``: 128-256-256-128 with a batch-norm style moving mean; the module has
two graph variants), and a tf_keras MobileNetV2 SavedModel (a big graph: ~6000 nodes in ~630
functions, 2.5 MB ``saved_model.pb``).

Timed, each in a **fresh process** (what a user waits for): ``python -m tfhub inspect DIR``
(human report; ``--runs``, default 15), ``python -m tfhub inspect DIR --json``, and
``saved_model_cli show --dir DIR --all`` (``--tf-runs``, default 5; it imports TensorFlow),
output to ``/dev/null``; and, in this process, ``tfhub.inspection.inspect_path(DIR)`` (the
reading itself, after one warm-up). Runs of the contenders alternate; before each round the
cores are given up to 90 s to go idle. Reported: medians, and the ratio tfhub CLI /
``saved_model_cli`` (goal <= 0.1). A ``python -X importtime`` run checks that the command
imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    DATA,
    PYTHON,
    ROOT,
    child_env,
    code_line,
    cores_line,
    median,
    quiet,
    save_results,
    spread,
    summary,
    wait_quiet,
)

MODELS = DATA / "models"
SAVED_MODEL_CLI = str(Path(PYTHON).parent / "saved_model_cli")


def _model_dirs() -> dict[str, Path]:
    return {
        "TF2 SavedModel (MLP)": MODELS / "tf2_mlp_bn_128_256_256_128",
        "TF1 Hub module (MLP)": MODELS / "tf1_mlp_bn_128_256_256_128",
        "tf_keras MobileNetV2": MODELS / "inspect_tf_keras_mobilenet_v2",
    }


def build(paths: dict[str, Path]) -> None:
    """Builds the missing models (imports TensorFlow: run in a subprocess)."""
    import bench_tf1_module

    tf2, tf1, keras = paths.values()
    bench_tf1_module.build_tf2_saved_model(tf2)
    bench_tf1_module.build_tf1_module(tf1)
    if not (keras / "saved_model.pb").exists():
        import shutil

        import tf_keras

        tmp = keras.with_name(keras.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model = tf_keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
        model.save(str(tmp), save_format="tf")
        tmp.rename(keras)


def ensure_models() -> dict[str, Path]:
    paths = _model_dirs()
    if not all((p / "saved_model.pb").exists() for p in paths.values()):
        print("  building the models (once) ...", flush=True)
        proc = subprocess.run(
            [PYTHON, __file__, "--build"], capture_output=True, text=True, env=child_env()
        )
        if proc.returncode != 0:
            raise SystemExit(f"building the models failed:\n{proc.stderr[-4000:]}")
    return paths


def run_seconds(cmd: list[str]) -> float:
    """Wall seconds of one fresh process running ``cmd`` (output discarded; must exit 0)."""
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(), check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]!r}")
    return seconds


def check_no_tensorflow(path: Path) -> str:
    """Runs the command with ``-X importtime``; fails if TensorFlow was imported. Returns the
    cumulative import time of ``tfhub`` and of ``tfhub.inspection`` as a line."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "tfhub", "inspect", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        check=True,
    )
    imported: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            imported[parts[2].strip()] = int(parts[1])
    heavy = [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]
    if heavy:
        raise SystemExit(f"`tfhub inspect` imported {heavy[:5]}")
    return (
        f"no TensorFlow imported; import tfhub {imported.get('tfhub', 0) / 1e3:.0f} ms, "
        f"tfhub.inspection {imported.get('tfhub.inspection', 0) / 1e3:.0f} ms (cumulative)"
    )


def bench_model(name: str, path: Path, runs: int, tf_runs: int) -> dict[str, list[float]]:
    from tfhub.inspection import inspect_path

    inspect_path(path)  # warm-up (and a check that it reads)
    times: dict[str, list[float]] = {"cli": [], "cli_json": [], "in_process": [], "tf": []}
    tfhub_cli = [PYTHON, "-m", "tfhub", "inspect", str(path)]
    tf_cli = [SAVED_MODEL_CLI, "show", "--dir", str(path), "--all"]
    rounds = max(runs, tf_runs)
    for r in range(rounds):
        wait_quiet()
        order = ["tf", "tfhub"] if r % 2 else ["tfhub", "tf"]
        for who in order:
            if who == "tf" and r < tf_runs:
                times["tf"].append(run_seconds(tf_cli))
            elif who == "tfhub" and r < runs:
                times["cli"].append(run_seconds(tfhub_cli))
                times["cli_json"].append(run_seconds([*tfhub_cli, "--json"]))
                start = time.perf_counter()
                inspect_path(path)
                times["in_process"].append(time.perf_counter() - start)
    print(
        f"  {name}: tfhub inspect {median(times['cli']) * 1e3:.0f} ms "
        f"({spread([t * 1e3 for t in times['cli']])}), --json "
        f"{median(times['cli_json']) * 1e3:.0f} ms, in-process inspect_path "
        f"{median(times['in_process']) * 1e3:.1f} ms; saved_model_cli show --all "
        f"{median(times['tf']):.2f} s ({spread(times['tf'])}); ratio "
        f"{median(times['cli']) / median(times['tf']):.3f}",
        flush=True,
    )
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 tfhub runs, 3 saved_model_cli")
    parser.add_argument("--runs", type=int, default=None, help="tfhub runs per model")
    parser.add_argument("--tf-runs", type=int, default=None, help="saved_model_cli runs")
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quiet()
    if args.build:
        build(_model_dirs())
        return 0
    runs = args.runs or (5 if args.quick else 15)
    tf_runs = args.tf_runs or (3 if args.quick else 5)
    os.chdir(ROOT)
    print("tfhub inspect vs saved_model_cli show --all (fresh process per run)")
    print(f"  {cores_line()}")
    print(f"  {code_line()}")
    paths = ensure_models()
    print(f"  {check_no_tensorflow(paths['TF1 Hub module (MLP)'])}")
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], check=True)
    print(f"  python startup alone: {(time.perf_counter() - start) * 1e3:.0f} ms")
    results = {name: bench_model(name, path, runs, tf_runs) for name, path in paths.items()}
    ratios = {name: median(t["cli"]) / median(t["tf"]) for name, t in results.items()}
    save_results(
        "inspect" + ("_quick" if args.quick else ""),
        {"runs": runs, "tf_runs": tf_runs, "seconds": results, "ratio": ratios},
    )
    parts = [
        f"{name} {median(results[name]['cli']) * 1e3:.0f} ms vs "
        f"{median(results[name]['tf']):.2f} s = {ratio:.3f}"
        for name, ratio in ratios.items()
    ]
    summary(
        f"inspect: tfhub inspect / saved_model_cli show --all: {'; '.join(parts)} "
        f"(max ratio {max(ratios.values()):.3f}, goal <= 0.1) [{runs} / {tf_runs} runs]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
