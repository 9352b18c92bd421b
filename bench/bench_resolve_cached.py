"""Cached ``resolve`` of a URL handle: ``tfhub.resolve(url)`` vs ``tensorflow_hub.resolve(url)``.

    .venv/bin/python bench/bench_resolve_cached.py [--quick] [--rounds N] [--calls N] [--profile]

One process, both libraries. A small real SavedModel is served on 127.0.0.1 (by
``bench/_server.py`` in its own process) under a hub-style URL; each library resolves it once
(a real download into a fresh ``TFHUB_CACHE_DIR``), then both are timed on the cached handle:
``--rounds`` rounds (default 5) of ``--calls`` calls (default 5000) each, alternating which
library goes first, with a warm-up before. Reported: the median over rounds of µs per call,
and the ratio ours / reference (goal <= 0.5).

tfhub's hit is checked, not assumed: every call stats the completion marker and each file of
the manifest. To show the timed path really looks at the marker, the benchmark afterwards
deletes the marker and checks that the next ``resolve`` installs the model again.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ensure_model
from _harness import (
    DATA,
    FileServer,
    code_line,
    cores_line,
    import_reference,
    median,
    print_profile,
    quiet,
    save_results,
    scratch_dir,
    spread,
    summary,
)


def per_call_us(fn: Callable[[str], str], url: str, calls: int) -> float:
    gc.collect()
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn(url)
    return (time.perf_counter_ns() - t0) / calls / 1000.0


def marker_check(tfhub_mod: object, url: str, cache_dir: Path) -> str:
    """Deletes tfhub's completion marker and checks that resolve installs the model again."""
    markers = list((cache_dir / "models").glob("*/COMPLETE"))
    if len(markers) != 1:
        return "marker check skipped (cache layout not found)"
    marker = markers[0]
    marker.unlink()
    path = tfhub_mod.resolve(url)  # type: ignore[attr-defined]
    if not marker.exists() or not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise SystemExit("tfhub.resolve returned a cached entry whose marker was deleted")
    return "marker check ok (a deleted COMPLETE marker makes resolve install again)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1000 calls")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument(
        "--profile", action="store_true", help="also profile one round of tfhub calls with cProfile"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    calls = args.calls or (1000 if args.quick else 5000)

    quiet()
    print("cached resolve of a URL handle, side by side (one process)")
    print(f"  {cores_line()}")
    print(f"  {code_line()}")
    model = ensure_model("tiny-1m", 1_000_000, verbose=True)
    print(f"  {model.describe()}")
    t0 = time.perf_counter()
    reference = import_reference()
    print(f"  import tensorflow_hub: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    import tfhub

    print(
        f"  import tfhub: {time.perf_counter() - t0:.3f} s "
        f"(tensorflow imported by tfhub: no - already loaded by the reference)"
    )

    with (
        FileServer({"/models/bench/cached/1": model.gzip}) as server,
        scratch_dir("cached-") as cache_dir,
    ):
        url = server.url("/models/bench/cached/1")
        os.environ["TFHUB_CACHE_DIR"] = str(cache_dir)
        ours_path = tfhub.resolve(url)
        ref_path = reference.resolve(url)
        for name, path in (("tfhub", ours_path), ("tensorflow_hub", ref_path)):
            if not os.path.isfile(os.path.join(path, "saved_model.pb")):
                raise SystemExit(f"{name} resolved {url} to {path} without saved_model.pb")
        print(
            f"  handle {url}\n    tfhub          -> {ours_path}\n    tensorflow_hub -> {ref_path}"
        )

        clients = {"tfhub": tfhub.resolve, "tensorflow_hub": reference.resolve}
        for fn in clients.values():  # warm-up
            per_call_us(fn, url, max(200, calls // 5))
        results: dict[str, list[float]] = {name: [] for name in clients}
        names = list(clients)
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                results[name].append(per_call_us(clients[name], url, calls))
            print(
                f"    round {r + 1}: tfhub {results['tfhub'][-1]:.1f} µs, "
                f"tensorflow_hub {results['tensorflow_hub'][-1]:.1f} µs",
                flush=True,
            )
        ours, ref = median(results["tfhub"]), median(results["tensorflow_hub"])

        if args.profile:
            import cProfile

            out = DATA / "results" / "profile_resolve_cached.pstats"
            out.parent.mkdir(parents=True, exist_ok=True)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(calls):
                tfhub.resolve(url)
            profiler.disable()
            profiler.dump_stats(str(out))
            print(f"\n  == cProfile of {calls} cached tfhub.resolve calls (dump: {out}) ==")
            print_profile(out, limit=15)

        check = marker_check(tfhub, url, cache_dir)
        print(f"  {check}")

    ratio = ours / ref
    print(
        f"\n  µs per call, median of {rounds} rounds x {calls} calls: "
        f"tfhub {ours:.2f} ({spread(results['tfhub'])}), "
        f"tensorflow_hub {ref:.2f} ({spread(results['tensorflow_hub'])})"
    )
    save_results(
        "resolve_cached" + ("_quick" if args.quick else ""),
        {
            "rounds": rounds,
            "calls": calls,
            "us_per_call": results,
            "ratio": ratio,
        },
    )
    summary(
        f"resolve_cached: tfhub {ours:.1f} µs, tensorflow_hub {ref:.1f} µs, "
        f"ratio {ratio:.2f} (goal <= 0.5) [{rounds} rounds x {calls} calls]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
