"""One cold install in a fresh process, for the download and memory benchmarks.

    python bench/_worker.py {tfhub|tensorflow_hub} URL CACHE_DIR [--warm-url URL] [--profile F]

1. imports the client (``tfhub``, or ``tensorflow_hub`` which imports TensorFlow);
2. with ``--warm-url``, resolves that small model first (into a separate cache directory),
   untimed, so lazy imports and first-use set-up of either library are not in the timing;
3. measures the memory baseline: ``ru_maxrss`` and the current RSS, then resets the kernel's
   peak-RSS counter (``/proc/self/clear_refs`` = 5) where allowed;
4. times ``client.resolve(URL)`` with ``TFHUB_CACHE_DIR=CACHE_DIR`` (wall and CPU time);
5. prints ``RESULT {json}``: seconds, cpu_seconds, model_bytes, and the peak RSS during the
   install as ``ru_maxrss`` after minus ``ru_maxrss`` before (``peak_delta_maxrss``) and as the
   reset peak (VmHWM) minus the RSS before (``peak_delta_hwm``, when the reset worked).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=["tfhub", "tensorflow_hub"])
    parser.add_argument("url")
    parser.add_argument("cache_dir")
    parser.add_argument("--warm-url")
    parser.add_argument("--profile")
    args = parser.parse_args(argv)

    from _harness import dir_bytes, import_reference, quiet

    quiet()
    if args.client == "tfhub":
        import tfhub as client
    else:
        client = import_reference()

    if args.warm_url:
        os.environ["TFHUB_CACHE_DIR"] = os.path.join(args.cache_dir, "warm")
        client.resolve(args.warm_url)
    os.environ["TFHUB_CACHE_DIR"] = os.path.join(args.cache_dir, "cache")

    import gc

    gc.collect()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rss_before = _status_kb("VmRSS")
    reset = _reset_peak() and _status_kb("VmHWM") is not None
    if reset and rss_before is not None and (_status_kb("VmHWM") or 0) > rss_before + 4096:
        reset = False  # the counter did not go down: not supported here
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    cpu0 = os.times()
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    path = client.resolve(args.url)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_after = _status_kb("VmHWM")
    if profiler is not None:
        profiler.dump_stats(args.profile)

    model_bytes = dir_bytes(path)
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise SystemExit(
            f"{args.client} resolved {args.url} to {path}, which has no saved_model.pb"
        )
    result = {
        "client": args.client,
        "seconds": seconds,
        "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "user_seconds": cpu1.user - cpu0.user,
        "system_seconds": cpu1.system - cpu0.system,
        "model_bytes": model_bytes,
        "path": path,
        "maxrss_before_kb": maxrss_before,
        "maxrss_after_kb": maxrss_after,
        "rss_before_kb": rss_before,
        "peak_delta_maxrss_kb": maxrss_after - maxrss_before,
        "peak_delta_hwm_kb": (hwm_after - rss_before)
        if reset and hwm_after is not None and rss_before is not None
        else None,
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
