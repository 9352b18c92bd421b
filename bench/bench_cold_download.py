"""Cold download + install of a ~200 MB model archive from a local server, side by side.

    .venv/bin/python bench/bench_cold_download.py [--quick] [--reps N] [--profile]

The model is a real SavedModel (~256 MB of float32 weights; its tar.gz is ~200 MB), served
by ``bench/_server.py`` (its own process, ``sendfile`` from disk) under hub-style URLs that
both clients fetch as ``...?tf-hub-format=compressed``. Each install runs in a fresh process
(``bench/_worker.py``) with a fresh, empty ``TFHUB_CACHE_DIR``; the worker first resolves a
tiny model, untimed, so lazy imports are not timed. The timing is of ``resolve(url)`` alone:
request, download, decompression, safe extraction, manifest/marker (ours), atomic rename.

Variants, interleaved in rotating order on every repetition:
  tfhub gzip         ours, .tar.gz
  tensorflow_hub gzip  the original, .tar.gz (it cannot read zstd)
  tfhub zstd         ours, .tar.zst of the same model

Goals (issue #2): speed ratio (reference time / ours) >= 1x for gzip, >= 4x for zstd, where
the zstd ratio compares ours-zstd with reference-gzip of the same model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ensure_model
from _harness import (
    DATA,
    FileServer,
    code_line,
    cores_line,
    median,
    print_profile,
    run_worker,
    save_results,
    scratch_dir,
    spread,
    summary,
    wait_quiet,
)

FULL_BYTES = 256_000_000  # tar.gz ~ 200 MB
QUICK_BYTES = 32_000_000
VARIANTS = [
    ("tfhub", "gzip"),
    ("tensorflow_hub", "gzip"),
    ("tfhub", "zstd"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~32 MB model, 3 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 7; quick 3)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, profile one tfhub install per format",
    )
    parser.add_argument(
        "--no-wait-quiet",
        dest="wait_quiet",
        action="store_false",
        help="do not wait (up to 90 s) for other processes to leave the cores idle before each run",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 7)
    size = QUICK_BYTES if args.quick else FULL_BYTES

    print("cold download + install, side by side")
    print(f"  {cores_line()}")
    print(f"  {code_line()}")
    model = ensure_model("cold-32m" if args.quick else "cold-256m", size)
    tiny = ensure_model("tiny-1m", 1_000_000, verbose=False)
    print(f"  {model.describe()}")
    routes = {
        "/models/bench/gzip/1": model.gzip,
        "/models/bench/zstd/1": model.zstd,
        "/models/warm/1": tiny.gzip,
    }
    busy_seen: list[float] = []
    times: dict[tuple[str, str], list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[tuple[str, str], list[float]] = {v: [] for v in VARIANTS}
    with FileServer(routes) as server:
        warm = server.url("/models/warm/1")
        print(
            f"  serving on 127.0.0.1:{server.port}; {reps} repetitions, fresh process and "
            "cache for each install"
        )
        for rep in range(reps):
            order = VARIANTS[rep % len(VARIANTS) :] + VARIANTS[: rep % len(VARIANTS)]
            for client, fmt in order:
                busy = wait_quiet() if args.wait_quiet else 0.0
                busy_seen.append(busy)
                with scratch_dir("cold-") as cache:
                    r = run_worker(
                        client, server.url(f"/models/bench/{fmt}/1"), cache, warm_url=warm
                    )
                if r["model_bytes"] != model.model_bytes:
                    raise SystemExit(
                        f"{client} {fmt}: installed {r['model_bytes']} bytes, "
                        f"expected {model.model_bytes}"
                    )
                times[(client, fmt)].append(r["seconds"])
                cpu[(client, fmt)].append(r["cpu_seconds"])
                print(
                    f"    rep {rep + 1} {client:>14} {fmt}: {r['seconds']:.3f} s "
                    f"(cpu {r['cpu_seconds']:.2f} s; machine busy before: {busy:.0%})",
                    flush=True,
                )

        mb = model.model_bytes / 1e6
        print(
            f"\n  {'variant':<22} {'median s':>9} {'model MB/s':>11} {'archive MB/s':>13} "
            f"{'cpu s':>6} {'best s':>7}  range s"
        )
        med = {v: median(t) for v, t in times.items()}
        for client, fmt in VARIANTS:
            v = (client, fmt)
            archive = model.gzip_bytes if fmt == "gzip" else model.zstd_bytes
            print(
                f"  {client + ' ' + fmt:<22} {med[v]:>9.3f} {mb / med[v]:>11.0f} "
                f"{archive / 1e6 / med[v]:>13.0f} {median(cpu[v]):>6.2f} {min(times[v]):>7.3f}  "
                f"{spread(times[v])}"
            )

        ref = med[("tensorflow_hub", "gzip")]
        gz, zst = med[("tfhub", "gzip")], med[("tfhub", "zstd")]
        speed_gz, speed_zst = ref / gz, ref / zst
        print(
            f"\n  time ratio (ours / reference): gzip {gz / ref:.2f}, "
            f"zstd-vs-reference-gzip {zst / ref:.2f}"
        )
        bref = min(times[("tensorflow_hub", "gzip")])
        print(
            f"  best-of-{reps} speed ratio (least disturbed runs): gzip "
            f"{bref / min(times[('tfhub', 'gzip')]):.2f}x, zstd-vs-reference-gzip "
            f"{bref / min(times[('tfhub', 'zstd')]):.2f}x"
        )
        cref = median(cpu[("tensorflow_hub", "gzip")])
        cgz, czst = median(cpu[("tfhub", "gzip")]), median(cpu[("tfhub", "zstd")])
        print(
            f"  CPU-time speed ratio (reference CPU s / ours): gzip {cref / cgz:.2f}x, "
            f"zstd-vs-reference-gzip {cref / czst:.2f}x"
        )
        save_results(
            "cold_download" + ("_quick" if args.quick else ""),
            {
                "model": model.describe(),
                "reps": reps,
                "seconds": {f"{c} {f}": t for (c, f), t in times.items()},
                "cpu_seconds": {f"{c} {f}": t for (c, f), t in cpu.items()},
                "speed_ratio_gzip": speed_gz,
                "speed_ratio_zstd": speed_zst,
            },
        )

        if args.profile:
            for fmt in ("gzip", "zstd"):
                out = DATA / "results" / f"profile_cold_{fmt}.pstats"
                with scratch_dir("prof-") as cache:
                    r = run_worker(
                        "tfhub",
                        server.url(f"/models/bench/{fmt}/1"),
                        cache,
                        warm_url=warm,
                        profile=out,
                    )
                print(
                    f"\n  == cProfile of tfhub {fmt} install ({r['seconds']:.3f} s under the "
                    f"profiler; dump: {out}) =="
                )
                print_profile(out)

    print(f"  {cores_line()}")
    loaded = sum(b > 0.10 for b in busy_seen)
    if loaded:
        print(
            f"  WARNING: {loaded} of {len(busy_seen)} runs started while other processes kept "
            f"the cores busy (max {max(busy_seen):.0%}); wall times may be inflated"
        )
    summary(
        f"cold_download gzip: tfhub {gz:.3f} s ({mb / gz:.0f} MB/s), tensorflow_hub "
        f"{ref:.3f} s ({mb / ref:.0f} MB/s), speed ratio {speed_gz:.2f}x (goal >= 1x) "
        f"[{model.model_bytes / 1e6:.0f} MB model, {model.gzip_bytes / 1e6:.0f} MB tar.gz, "
        f"{reps} reps]"
    )
    summary(
        f"cold_download zstd: tfhub-zstd {zst:.3f} s ({mb / zst:.0f} MB/s), tensorflow_hub-gzip "
        f"{ref:.3f} s ({mb / ref:.0f} MB/s), speed ratio {speed_zst:.2f}x (goal >= 4x) "
        f"[{model.zstd_bytes / 1e6:.0f} MB tar.zst]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
