"""What the compatibility-mode scripts share.

Each script runs as ``python <script>.py ARGS...`` (from ``tests/tf1/test_compat_mode.py``),
switches its process to TF1 compatibility mode (``disable_v2_behavior`` is process-wide) and
prints one ``RESULT {json}`` line for the test to check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).resolve().parents[2]


def tf1() -> ModuleType:
    """``tensorflow.compat.v1`` with TF2 behaviour disabled, as TF1 programs start."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    assert not tf.executing_eagerly()
    return tf


def names(tf: ModuleType, key: str) -> list[str]:
    """The sorted names of what a graph collection holds."""
    return sorted(getattr(item, "name", str(item)) for item in tf.get_collection(key))


def emit(**result: Any) -> None:
    print("RESULT " + json.dumps(result, default=_plain), flush=True)


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(f"cannot emit a {type(value).__name__}")
