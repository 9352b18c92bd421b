"""Writes ``src/tfhub/inspection/tf_core_ops.txt``: every op the installed TensorFlow
registers, one name per line, sorted. tfhub reads it to tell core ops from ops that need an
extra package (``tfhub.inspection.ops``), without importing TensorFlow.

Run it after upgrading TensorFlow, in a fresh interpreter (it imports TensorFlow and nothing
else, so that no op library such as ``tensorflow_text`` adds its ops)::

    .venv/bin/python scripts/gen_core_ops.py          # rewrite the file
    .venv/bin/python scripts/gen_core_ops.py --check  # exit 1 if the file is out of date

The op list comes from TensorFlow's op registry (the C API's ``TF_GetAllOpList``), parsed as
an ``OpList`` protocol buffer with tfhub's own wire reader.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TARGET = Path(__file__).resolve().parents[1] / "src" / "tfhub" / "inspection" / "tf_core_ops.txt"


def registered_ops() -> list[str]:
    """The names of every op registered in this process, sorted."""
    import tensorflow as tf
    from tensorflow.python.client import pywrap_tf_session  # the registry is C API only

    from tfhub.core.wire import fields, message, text

    loaded = sorted({m.split(".")[0] for m in sys.modules if m.startswith("tensorflow_")})
    if loaded:  # op libraries (tensorflow_text, tensorflow_io, ...) add their ops
        raise SystemExit(f"Run in a fresh interpreter: {loaded} may have registered ops.")
    buffer = pywrap_tf_session.TF_GetAllOpList()
    try:
        data = pywrap_tf_session.TF_GetBuffer(buffer)
    finally:
        pywrap_tf_session.TF_DeleteBuffer(buffer)
    names = set()
    for number, op_def in fields(data):  # OpList.op = 1, OpDef.name = 1
        if number == 1:
            names |= {text(v) for n, v in fields(message(op_def)) if n == 1}
    print(f"TensorFlow {tf.__version__}: {len(names)} ops", file=sys.stderr)
    return sorted(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    wanted = "".join(name + "\n" for name in registered_ops())
    if args.check:
        current = TARGET.read_text("utf-8") if TARGET.exists() else ""
        if current != wanted:
            have, need = set(current.split()), set(wanted.split())
            print(
                f"{TARGET} is out of date: missing {sorted(need - have)[:20]}, "
                f"extra {sorted(have - need)[:20]}. Run scripts/gen_core_ops.py."
            )
            return 1
        print(f"{TARGET} matches the installed TensorFlow.")
        return 0
    TARGET.write_text(wanted, "utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
