"""Memory: peak RSS while installing a ~100 MB and a ~1 GB archive, side by side.

    .venv/bin/python bench/bench_memory.py [--quick] [--reps N] [--skip-large]

Each install runs in a fresh process (``bench/_worker.py``): import the client, resolve a
tiny model (untimed warm-up), measure the baseline, then ``resolve`` the big archive from the
local server into an empty ``TFHUB_CACHE_DIR``. Peak RSS growth during the install is
reported two ways:

- ``ru_maxrss`` after the install minus ``ru_maxrss`` before it (``getrusage``); for the
  reference this hides growth below the peak TensorFlow's import already reached;
- the kernel's peak counter reset just before the install (``/proc/self/clear_refs``) minus
  the RSS before it: the real peak of this install. This is the figure used for the verdict.

Streaming means the growth does not depend on the archive size: the verdict is "flat" when
tfhub's growth for the large archive is within 32 MB (and 1.5x) of the small one's.
The large case needs 10 GB free on the disk of ``.bench-data`` and is skipped otherwise.
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
    df_line,
    free_bytes,
    median,
    run_worker,
    save_results,
    scratch_dir,
    summary,
    wait_quiet,
)

# Model sizes whose tar.gz is ~100 MB and ~1 GB (gzip keeps ~0.79 of these weights).
SMALL, LARGE = 128_000_000, 1_280_000_000
QUICK_SMALL, QUICK_LARGE = 16_000_000, 128_000_000
NEED_FREE = 10 * 1000**3
VARIANTS = [("tfhub", "gzip"), ("tensorflow_hub", "gzip"), ("tfhub", "zstd")]
FLAT_SLACK_MB = 32.0


def mb(kb: float | None) -> float:
    return float("nan") if kb is None else kb / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~12 MB and ~100 MB archives")
    parser.add_argument("--reps", type=int, default=None, help="installs per case (default 3)")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 3)
    small_bytes, large_bytes = (QUICK_SMALL, QUICK_LARGE) if args.quick else (SMALL, LARGE)

    print("memory: peak RSS during an install, side by side (fresh process per install)")
    print(f"  {cores_line()}")
    print(f"  {code_line()}")
    print(f"  disk: {df_line(DATA)}")
    sizes = [("small", small_bytes)]
    free = free_bytes(DATA)
    if args.skip_large:
        print("  large case skipped (--skip-large)")
    elif free < NEED_FREE and not args.quick:
        print(
            f"  SKIPPING the ~1 GB case: only {free / 1e9:.1f} GB free on the disk of {DATA} "
            f"(needs {NEED_FREE / 1e9:.0f} GB for the model, two archives and the installs)"
        )
    else:
        sizes.append(("large", large_bytes))

    tiny = ensure_model("tiny-1m", 1_000_000, verbose=False)
    models = {}
    for label, size in sizes:
        tag = f"mem-{size // 1_000_000}m"
        models[label] = ensure_model(tag, size)
        print(f"  {label}: {models[label].describe()}")

    routes: dict[str, str | Path] = {"/models/warm/1": tiny.gzip}
    for label, m in models.items():
        routes[f"/models/{label}/gzip/1"] = m.gzip
        routes[f"/models/{label}/zstd/1"] = m.zstd

    # (label, client, fmt) -> list of worker results
    runs: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    with FileServer(routes) as server:
        warm = server.url("/models/warm/1")
        for label in models:
            for rep in range(reps):
                for client, fmt in VARIANTS:
                    wait_quiet(max_wait=30.0)
                    with scratch_dir("mem-") as cache:
                        r = run_worker(
                            client, server.url(f"/models/{label}/{fmt}/1"), cache, warm_url=warm
                        )
                    if r["model_bytes"] != models[label].model_bytes:
                        raise SystemExit(f"{client} {fmt} {label}: wrong install size")
                    runs.setdefault((label, client, fmt), []).append(r)
                    print(
                        f"    {label} rep {rep + 1} {client:>14} {fmt}: {r['seconds']:.2f} s, "
                        f"peak +{mb(r['peak_delta_hwm_kb']):.1f} MB "
                        f"(ru_maxrss +{mb(r['peak_delta_maxrss_kb']):.1f} MB, "
                        f"baseline {mb(r['rss_before_kb']):.0f} MB)",
                        flush=True,
                    )

    def med(label: str, client: str, fmt: str, key: str) -> float:
        values = [r[key] for r in runs[(label, client, fmt)] if r[key] is not None]
        return mb(median(values)) if values else float("nan")

    print(
        f"\n  {'case':<8} {'archive':>10} {'variant':<22} {'baseline RSS':>13} "
        f"{'peak growth':>12} {'ru_maxrss growth':>17} {'median s':>9}"
    )
    table = {}
    for label, m in models.items():
        for client, fmt in VARIANTS:
            archive = m.gzip_bytes if fmt == "gzip" else m.zstd_bytes
            base = med(label, client, fmt, "rss_before_kb")
            hwm = med(label, client, fmt, "peak_delta_hwm_kb")
            ru = med(label, client, fmt, "peak_delta_maxrss_kb")
            secs = median([r["seconds"] for r in runs[(label, client, fmt)]])
            table[f"{label} {client} {fmt}"] = {
                "archive_bytes": archive,
                "baseline_mb": base,
                "peak_growth_mb": hwm,
                "ru_maxrss_growth_mb": ru,
                "seconds": secs,
            }
            print(
                f"  {label:<8} {archive / 1e6:>7.0f} MB {client + ' ' + fmt:<22} "
                f"{base:>10.0f} MB {hwm:>9.1f} MB {ru:>14.1f} MB {secs:>9.2f}"
            )
    save_results("memory" + ("_quick" if args.quick else ""), {"reps": reps, "table": table})

    def growth(label: str, client: str, fmt: str) -> float:
        return table[f"{label} {client} {fmt}"]["peak_growth_mb"]

    s_mb = models["small"].gzip_bytes / 1e6
    if "large" not in models:
        summary(
            f"memory: tfhub peak +{growth('small', 'tfhub', 'gzip'):.1f} MB, tensorflow_hub "
            f"+{growth('small', 'tensorflow_hub', 'gzip'):.1f} MB for a {s_mb:.0f} MB "
            "tar.gz; large case skipped, flatness not shown"
        )
        return 0
    l_mb = models["large"].gzip_bytes / 1e6
    flat = True
    for fmt in ("gzip", "zstd"):
        small, large = growth("small", "tfhub", fmt), growth("large", "tfhub", fmt)
        flat = flat and large <= small + FLAT_SLACK_MB and large <= max(small * 1.5, small + 8)
    print(f"\n  {cores_line()}")
    summary(
        f"memory: tfhub peak +{growth('small', 'tfhub', 'gzip'):.1f} MB ({s_mb:.0f} MB tar.gz) / "
        f"+{growth('large', 'tfhub', 'gzip'):.1f} MB ({l_mb:.0f} MB tar.gz), zstd "
        f"+{growth('small', 'tfhub', 'zstd'):.1f} / +{growth('large', 'tfhub', 'zstd'):.1f} MB; "
        f"tensorflow_hub +{growth('small', 'tensorflow_hub', 'gzip'):.1f} / "
        f"+{growth('large', 'tensorflow_hub', 'gzip'):.1f} MB; "
        f"tfhub flat (streaming): {'yes' if flat else 'NO'} (goal: flat)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
