"""Writes ``original_0_15/``: the fixture module of ``tests/tf1/hub_fixture.py`` as the
original ``tensorflow_hub`` 0.15.0 (its last release with ``hub.Module``) creates and exports
it, in TF1 compatibility mode on TensorFlow 2.21.

Usage (0.15.0 is not a dependency; unpack its wheel anywhere)::

    pip download tensorflow-hub==0.15.0 --no-deps -d /tmp/th && \\
        python -m zipfile -e /tmp/th/tensorflow_hub-0.15.0-py2.py3-none-any.whl /tmp/th/pkg
    .venv/bin/python tests/tf1/data/make_original_module.py /tmp/th/pkg

TensorFlow 2.21 has no ``tf.compat.v1.estimator``; the original imports it at import time
only, so a stand-in module is enough.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(original_package_dir: str) -> None:
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    stand_in = types.ModuleType("tensorflow.compat.v1.estimator")
    stand_in.Exporter = object  # type: ignore[attr-defined]
    stand_in.ModeKeys = types.SimpleNamespace(PREDICT="infer")  # type: ignore[attr-defined]
    sys.modules["tensorflow.compat.v1.estimator"] = stand_in
    sys.path[:0] = [original_package_dir, str(HERE.parents[1])]
    import tensorflow_hub as original

    from tf1 import hub_fixture

    assert original.__version__ == "0.15.0", original.__version__
    hub_fixture.hub = original  # module_fn calls add_signature / attach_message through it
    work = Path(tempfile.mkdtemp())
    hub_fixture.export_fixture(work / "module", work)
    shutil.rmtree(HERE / "original_0_15", ignore_errors=True)
    shutil.copytree(work / "module", HERE / "original_0_15")


if __name__ == "__main__":
    main(sys.argv[1])
