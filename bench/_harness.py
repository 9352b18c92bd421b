"""Shared plumbing for the side-by-side benchmarks (tfhub vs the original ``tensorflow_hub``).

Nothing here imports TensorFlow or tfhub at module level: the benchmark scripts decide what
is loaded in which process.

- :func:`quiet` silences TensorFlow's C++ logs, absl and the ``pkg_resources`` warning.
- :class:`FileServer` serves files from disk on 127.0.0.1 in a *separate process* (so the
  server never competes with the client under test for the GIL), streaming with ``sendfile``,
  honouring ``Range`` and answering hub-style URLs whatever their query string.
- :func:`run_worker` runs one install (``bench/_worker.py``) in a fresh process and returns
  its timings and memory figures.
- :func:`summary` prints the one-line result of a benchmark (and appends it to
  ``$BENCH_SUMMARY_FILE`` when set, which ``bench/run_all.py`` uses).
- :func:`mlp` and :func:`save_reusable_mlp` build the MLP SavedModels of
  ``bench_keras_layer.py`` and ``bench_tf1_module.py`` (TensorFlow imported on use).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = ROOT / ".bench-data"
PYTHON = sys.executable

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TFHUB_DISABLE_PROGRESS": "1",
    "PYTHONWARNINGS": "ignore",
    "ABSL_MIN_LOG_LEVEL": "3",
}


def quiet() -> None:
    """Silences TF / absl / pkg_resources noise in this process (call before importing TF)."""
    os.environ.update(QUIET_ENV)
    os.environ.pop("TFHUB_DOWNLOAD_PROGRESS", None)  # the original's console progress
    warnings.filterwarnings("ignore")


@contextlib.contextmanager
def stderr_to_devnull() -> Iterator[None]:
    """Sends file descriptor 2 to /dev/null (C++ logs written before absl is set up)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_reference() -> Any:
    """``import tensorflow_hub`` without its log noise; returns the module."""
    quiet()
    with warnings.catch_warnings(), stderr_to_devnull():
        warnings.simplefilter("ignore")
        import tensorflow_hub

    with contextlib.suppress(Exception):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    with contextlib.suppress(Exception):
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
    return tensorflow_hub


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a worker process: quiet, with ``src`` importable."""
    env = dict(os.environ)
    env.update(QUIET_ENV)
    env.pop("TFHUB_DOWNLOAD_PROGRESS", None)
    for name in ("TFHUB_CACHE_DIR", "TFHUB_OFFLINE", "TFHUB_MODEL_LOAD_FORMAT", "TFHUB_TOKEN"):
        env.pop(name, None)
    env.update(extra)
    return env


# -- numbers --------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    """``min..max`` of ``values`` for the tables."""
    return f"{min(values):.3g}..{max(values):.3g}"


def cores_line() -> str:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"machine: {os.cpu_count()} cores (usable by this process: {affinity}) {model}".rstrip()


def code_line() -> str:
    """Which tfhub code is measured: the git commit plus a digest of ``src/tfhub`` as it is
    on disk now (other people may be editing it while benchmarks run)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "tfhub").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head, dirty = "?", ""
    return (
        f"code: commit {head}{' + uncommitted src changes' if dirty else ''}, "
        f"src/tfhub digest {digest.hexdigest()[:12]}"
    )


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


def machine_busy(interval: float = 0.5) -> float:
    """The fraction (0..1) of all cores busy over ``interval`` seconds (Linux; else 0)."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(interval)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_quiet(threshold: float = 0.10, max_wait: float = 90.0) -> float:
    """Waits (up to ``max_wait`` s) until other processes leave the cores idle, so a timed
    run does not share them; returns the busy fraction seen last. Other sessions, test
    suites or builds on the same machine otherwise skew wall-clock timings."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(1.0)
    return busy


def summary(line: str) -> None:
    """Prints the final one-line result (and records it for ``run_all.py``)."""
    print(line, flush=True)
    target = os.environ.get("BENCH_SUMMARY_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def save_results(name: str, results: dict[str, Any]) -> Path:
    """Writes ``results`` to ``.bench-data/results/<name>.json`` (the last run of each)."""
    out = DATA / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), **results}
    out.write_text(json.dumps(results, indent=1))
    return out


# -- disk -----------------------------------------------------------------------------------
def free_bytes(path: Path = ROOT) -> int:
    """Free space where ``path`` lives (what ``df`` reports as available)."""
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def df_line(path: Path = ROOT) -> str:
    try:
        out = (
            subprocess.run(["df", "-h", str(path)], capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()
        )
        return out[-1]
    except (OSError, subprocess.CalledProcessError):
        return f"{free_bytes(path) / 1e9:.1f} GB free"


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory under ``.bench-data/tmp`` (same disk as the data), removed after."""
    base = DATA / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``path``."""
    from tfhub.core.maintenance import disk_size  # TF-free

    return disk_size(path)


# -- MLP SavedModels (TensorFlow imported on use) ---------------------------------------------
def mlp(x: Any, kernels: Sequence[Any], biases: Sequence[Any]) -> Any:
    """``x`` through dense layers ``x @ kernel + bias``, a ReLU between two layers."""
    import tensorflow as tf

    for i, (k, b) in enumerate(zip(kernels, biases, strict=True)):
        x = tf.matmul(x, k) + b
        if i < len(kernels) - 1:
            x = tf.nn.relu(x)
    return x


def save_reusable_mlp(
    path: Path,
    forward: Any,
    *,
    kernels: list[Any],
    variables: list[Any],
    trainable_variables: list[Any],
    l2_factor: float,
    **attributes: Any,
) -> None:
    """Saves ``forward``, a ``tf.function`` of ``(x, training=False)``, as a reusable TF2
    SavedModel at ``path``: ``__call__`` traced for float32 ``[None, features]`` with and
    without ``training``, ``variables``, ``trainable_variables``, ``regularization_losses``
    (``l2_factor`` times the sum of the squared ``kernels``), and ``attributes``."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, kernels[0].shape[0]], tf.float32)
    for training in (True, False):
        forward.get_concrete_function(spec, training=training)
    forward.get_concrete_function(spec)

    @tf.function(input_signature=[])
    def l2() -> tf.Tensor:
        return l2_factor * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])

    root = tf.train.Checkpoint()
    root.__call__ = forward
    root.variables = variables
    root.trainable_variables = trainable_variables
    root.regularization_losses = [l2]
    for name, value in attributes.items():
        setattr(root, name, value)
    tf.saved_model.save(root, str(path))


# -- the file server ------------------------------------------------------------------------
class FileServer:
    """``with FileServer({"/models/x/1": path}) as srv: srv.url("/models/x/1")``.

    Runs ``bench/_server.py`` in its own process on 127.0.0.1 (an ephemeral port).
    """

    def __init__(self, routes: dict[str, str | os.PathLike[str]]) -> None:
        self.routes = {k: os.fspath(v) for k, v in routes.items()}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FileServer:
        args = [PYTHON, str(BENCH / "_server.py")]
        for path, file in self.routes.items():
            args += ["--route", f"{path}={file}"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=child_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"bench/_server.py did not start (said {line!r})")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


# -- worker processes -----------------------------------------------------------------------
def run_worker(
    client: str,
    url: str,
    cache_dir: Path,
    *,
    warm_url: str | None = None,
    profile: Path | None = None,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """One install of ``url`` by ``client`` ("tfhub" or "tensorflow_hub") in a fresh process.

    Returns the worker's JSON: ``seconds``, ``cpu_seconds``, ``model_bytes``, RSS figures.
    """
    args = [PYTHON, str(BENCH / "_worker.py"), client, url, str(cache_dir)]
    if warm_url:
        args += ["--warm-url", warm_url]
    if profile is not None:
        args += ["--profile", str(profile)]
    proc = subprocess.run(
        args, capture_output=True, text=True, env=child_env(), timeout=timeout, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(
        f"worker {client} {url} failed (exit {proc.returncode}):\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    )


def print_profile(path: Path, *, limit: int = 22) -> None:
    """Prints the top of a cProfile dump by own time and, for tfhub's code, by cumulative time.

    Files are shown relative to ``src/`` (``tfhub/core/archive.py:write_file``) or by their
    base name for the standard library and other packages.
    """
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(getattr(stats, "total_tt", 0.0), 1e-9)

    def where(key: tuple[str, int, str]) -> str:
        file, line, func = key
        if "/src/tfhub/" in file:
            file = "tfhub/" + file.split("/src/tfhub/", 1)[1]
        elif file.startswith("~") or file.startswith("<"):
            return f"{file}:{func}" if file != "~" else func
        else:
            file = os.path.basename(file)
        return f"{file}:{line}:{func}"

    rows = [(key, cc, nc, tt, ct) for key, (cc, nc, tt, ct, _) in raw.items()]
    print(f"  total profiled time {total:.3f} s")
    print(f"  -- top {limit} by own time --")
    print(f"  {'own s':>7} {'own %':>6} {'cum s':>7} {'calls':>8}  function")
    for key, _cc, nc, tt, ct in sorted(rows, key=lambda r: -r[3])[:limit]:
        print(f"  {tt:>7.3f} {100 * tt / total:>5.1f}% {ct:>7.3f} {nc:>8}  {where(key)}")
    print("  -- tfhub functions by cumulative time --")
    ours = [r for r in rows if "/src/tfhub/" in r[0][0]]
    for key, _cc, nc, tt, ct in sorted(ours, key=lambda r: -r[4])[:limit]:
        print(f"  {tt:>7.3f} {100 * ct / total:>5.1f}% {ct:>7.3f} {nc:>8}  {where(key)}")
