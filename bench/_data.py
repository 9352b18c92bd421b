"""Benchmark data: real SavedModels built with TensorFlow, packed as .tar.gz and .tar.zst.

Built once and kept under ``.bench-data/models/<tag>/`` (git-ignored)::

    model/            the SavedModel (saved_model.pb, variables/, fingerprint.pb, assets/)
    model.tar.gz      gzip level 6 (what ``tar czf`` / hub publishers produce)
    model.tar.zst     zstd level 3
    build.json        the parameters; the data is rebuilt when they change

The weights are dense-layer kernels and biases drawn from a scaled normal distribution and
rounded to ``MANTISSA_BITS`` significant mantissa bits (default 16 of float32's 23), so gzip
shrinks the archive to about 0.79 of the model (fully random float32 would give 0.93, bfloat16
weights 0.47): weights that compress "somewhat", like real checkpoints do.

Building imports TensorFlow, so it runs in a subprocess::

    python bench/_data.py build --out DIR --bytes N
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DATA, PYTHON, child_env

MANTISSA_BITS = 16
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
FORMAT = 2  # bump to rebuild everything


@dataclass(frozen=True)
class ModelData:
    tag: str
    model_dir: Path
    gzip: Path
    zstd: Path
    model_bytes: int

    @property
    def gzip_bytes(self) -> int:
        return self.gzip.stat().st_size

    @property
    def zstd_bytes(self) -> int:
        return self.zstd.stat().st_size

    def describe(self) -> str:
        return (
            f"model {self.tag}: {self.model_bytes / 1e6:.1f} MB SavedModel, "
            f"tar.gz {self.gzip_bytes / 1e6:.1f} MB ({self.gzip_bytes / self.model_bytes:.2f}), "
            f"tar.zst {self.zstd_bytes / 1e6:.1f} MB ({self.zstd_bytes / self.model_bytes:.2f})"
        )


def _layer_width(total_bytes: int) -> int:
    return 1024 if total_bytes >= 16 * 1024 * 1024 else 256


def build_saved_model(out: Path, total_bytes: int, mantissa_bits: int, seed: int) -> None:
    """Saves a tf.Module with ~``total_bytes`` of float32 dense layers and a serving function."""
    import numpy as np
    import tensorflow as tf

    width = _layer_width(total_bytes)
    per_layer = 4 * (width * width + width)
    layers = max(1, round(total_bytes / per_layer))
    rng = np.random.default_rng(seed)
    mask = np.uint32((0xFFFFFFFF << (23 - mantissa_bits)) & 0xFFFFFFFF)

    def weights(shape: tuple[int, ...], scale: float) -> np.ndarray:
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)
        bits = values.view(np.uint32)
        bits &= mask
        return bits.view(np.float32)

    class Model(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="bench_model")
            self.kernels = []
            self.biases = []
            for i in range(layers):
                self.kernels.append(
                    tf.Variable(weights((width, width), (2.0 / width) ** 0.5), name=f"kernel_{i}")
                )
                self.biases.append(tf.Variable(weights((width,), 0.01), name=f"bias_{i}"))

        @tf.function(input_signature=[tf.TensorSpec([None, width], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            for kernel, bias in zip(self.kernels, self.biases, strict=True):
                x = tf.nn.relu(tf.matmul(x, kernel) + bias)
            return x

    model = Model()
    if out.exists():
        shutil.rmtree(out)
    tf.saved_model.save(model, str(out), signatures={"serving_default": model.__call__})


def _tar(model_dir: Path, out: Path) -> None:
    """An uncompressed tar of ``model_dir`` with ``./``-relative, sorted, normalised members
    (the layout of ``tar -C model -cf out .``)."""

    def norm(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(model_dir, arcname=".", recursive=False, filter=norm)
        for path in sorted(model_dir.rglob("*")):
            tar.add(
                path,
                arcname="./" + path.relative_to(model_dir).as_posix(),
                recursive=False,
                filter=norm,
            )


def _compress(src: Path, dest: Path, kind: str) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    with open(src, "rb") as fin, open(tmp, "wb") as raw:
        if kind == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out:
                shutil.copyfileobj(fin, out, 8 << 20)
        else:
            import zstandard

            cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
            cctx.copy_stream(
                fin, raw, size=src.stat().st_size, read_size=8 << 20, write_size=8 << 20
            )
    os.replace(tmp, dest)


def ensure_model(tag: str, total_bytes: int, *, seed: int = 0, verbose: bool = True) -> ModelData:
    """The SavedModel ``tag`` of about ``total_bytes`` and its archives, built if missing."""
    base = DATA / "models" / tag
    model_dir, tar_gz, tar_zst = base / "model", base / "model.tar.gz", base / "model.tar.zst"
    params = {
        "format": FORMAT,
        "bytes": total_bytes,
        "mantissa_bits": MANTISSA_BITS,
        "seed": seed,
        "gzip_level": GZIP_LEVEL,
        "zstd_level": ZSTD_LEVEL,
    }
    stamp = base / "build.json"
    try:
        ok = json.loads(stamp.read_text()) == params and tar_gz.is_file() and tar_zst.is_file()
    except (OSError, ValueError):
        ok = False
    if not ok:
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        t0 = time.perf_counter()
        if verbose:
            print(
                f"  building {tag}: SavedModel of ~{total_bytes / 1e6:.0f} MB (TensorFlow)...",
                flush=True,
            )
        proc = subprocess.run(
            [
                PYTHON,
                __file__,
                "build",
                "--out",
                str(model_dir),
                "--bytes",
                str(total_bytes),
                "--seed",
                str(seed),
            ],
            env=child_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"building {tag} failed:\n{proc.stdout}\n{proc.stderr}")
        plain = base / "model.tar"
        _tar(model_dir, plain)
        if verbose:
            print(f"  packing {tag}: zstd level {ZSTD_LEVEL}...", flush=True)
        _compress(plain, tar_zst, "zstd")
        if verbose:
            print(f"  packing {tag}: gzip level {GZIP_LEVEL} (slow, done once)...", flush=True)
        _compress(plain, tar_gz, "gzip")
        plain.unlink()
        stamp.write_text(json.dumps(params))
        if verbose:
            print(f"  built {tag} in {time.perf_counter() - t0:.0f} s", flush=True)
    model_bytes = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    return ModelData(tag, model_dir, tar_gz, tar_zst, model_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    build = sub.add_parser("build", help="build one SavedModel (imports TensorFlow)")
    build.add_argument("--out", required=True, type=Path)
    build.add_argument("--bytes", required=True, type=int)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--mantissa-bits", type=int, default=MANTISSA_BITS)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        import warnings

        warnings.filterwarnings("ignore")
        build_saved_model(args.out, args.bytes, args.mantissa_bits, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
