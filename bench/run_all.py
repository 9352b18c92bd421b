"""Runs every benchmark in turn and prints their summary lines together at the end.

    .venv/bin/python bench/run_all.py [--quick] [--profile] [--only NAME ...]

Each benchmark runs as its own process (``bench/bench_<name>.py``), its output shown as it
goes. Exit status: 1 if a benchmark crashed (a missed goal is reported, not an error).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NAMES = [
    "resolve_cached",
    "cold_download",
    "memory",
    "keras_layer",
    "tf1_module",
    "inspect",
    "server",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=NAMES)
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile tables (cached, download)"
    )
    args = parser.parse_args(argv)

    with tempfile.NamedTemporaryFile("r", suffix=".txt", delete=False) as f:
        summary_file = f.name
    env = dict(os.environ, BENCH_SUMMARY_FILE=summary_file)
    failed = []
    try:
        for name in args.only:
            cmd = [sys.executable, str(BENCH / f"bench_{name}.py")]
            if args.quick:
                cmd.append("--quick")
            if args.profile and name in ("resolve_cached", "cold_download"):
                cmd.append("--profile")
            print(f"\n===== {' '.join(cmd)} =====", flush=True)
            if subprocess.run(cmd, env=env, check=False).returncode != 0:
                failed.append(name)
        print("\n===== summary =====")
        print(Path(summary_file).read_text().rstrip())
        for name in failed:
            print(f"{name}: FAILED (see its output above)")
    finally:
        os.unlink(summary_file)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
